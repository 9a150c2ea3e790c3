package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations are the schema's versions in order: migrations[i] takes a
// database from version i to i+1. Released entries are never edited, only
// appended to, since a database may already have run them. Tokens in braces
// are the dialect's: {id} an auto-increment primary key, {blob} bytes.
//
// Booleans are INTEGER 0 or 1, and times Unix microseconds, so that one
// query reads both backends the same way.
var migrations = [][]string{
	// 0 -> 1: rosters, pending requests, block lists, offline messages.
	{
		`CREATE TABLE roster_versions (
				username TEXT NOT NULL PRIMARY KEY,
				version  BIGINT NOT NULL
			)`,
		`CREATE TABLE roster_items (
				username     TEXT NOT NULL,
				contact      TEXT NOT NULL,
				name         TEXT NOT NULL DEFAULT '',
				groups       TEXT NOT NULL DEFAULT '', -- joined by U+001F, which XML text never holds
				subscription TEXT NOT NULL DEFAULT 'none',
				ask          INTEGER NOT NULL DEFAULT 0,
				approved     INTEGER NOT NULL DEFAULT 0,
				PRIMARY KEY (username, contact)
			)`,
		`CREATE TABLE roster_requests (
				username TEXT NOT NULL,
				contact  TEXT NOT NULL,
				stamp    BIGINT NOT NULL,
				stanza   {blob} NOT NULL,
				PRIMARY KEY (username, contact)
			)`,
		`CREATE TABLE blocked_jids (
				username TEXT NOT NULL,
				jid      TEXT NOT NULL,
				PRIMARY KEY (username, jid)
			)`,
		`CREATE TABLE offline_messages (
				id       {id},
				username TEXT NOT NULL,
				sender   TEXT NOT NULL,
				stamp    BIGINT NOT NULL,
				stanza   {blob} NOT NULL
			)`,
		`CREATE INDEX offline_messages_by_user ON offline_messages (username, id)`,
	},
}

// SchemaVersion is the schema version this build migrates to.
func SchemaVersion() int { return len(migrations) }

// migrate brings the database to SchemaVersion in one transaction, under a
// lock so that nodes starting together do not both migrate. A database at a
// newer version is refused and not written to.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("migrate", err)
	}
	defer tx.Rollback()
	if s.d.lockSchema != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockSchema); err != nil {
			return wrap("migrate: lock", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return wrap("migrate", err)
	}
	have := 0
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&have); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return wrap("migrate", err)
		}
	case err != nil:
		return wrap("migrate: read schema_version", err)
	}
	want := SchemaVersion()
	if have > want {
		return fmt.Errorf("storage: %w: the database is at schema version %d, this xtokend knows versions up to %d; upgrade xtokend (the database was not changed)", ErrNewerSchema, have, want)
	}
	for v := have; v < want; v++ {
		for _, stmt := range migrations[v] {
			if _, err := tx.ExecContext(ctx, s.d.ddl.Replace(stmt)); err != nil {
				return wrap(fmt.Sprintf("migrate to schema version %d", v+1), err)
			}
		}
	}
	if have < want {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE schema_version SET version = ?`), want); err != nil {
			return wrap("migrate", err)
		}
	}
	return wrap("migrate: commit", tx.Commit())
}
