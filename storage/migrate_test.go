package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestMigrateFromEmpty(t *testing.T) {
	eachBackend(t, Options{}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		var v int
		if err := st.r.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil || v != SchemaVersion() {
			t.Fatalf("schema_version = %d, %v; want %d", v, err, SchemaVersion())
		}
		for _, table := range []string{"roster_versions", "roster_items", "roster_requests", "blocked_jids", "offline_messages"} {
			var n int
			if err := st.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil || n != 0 {
				t.Errorf("table %s: %d rows, %v", table, n, err)
			}
		}
		// Opening again migrates nothing and keeps the data.
		if _, err := st.Offline().Store(ctx, "a@x", "b@y/r", testStamp, []byte("<message/>")); err != nil {
			t.Fatal(err)
		}
		again := openStore(t, st.opts)
		if n, err := again.Offline().Count(ctx, "a@x"); err != nil || n != 1 {
			t.Errorf("after reopening: %d messages, %v", n, err)
		}
		var rows int
		if err := again.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("schema_version has %d rows, %v", rows, err)
		}
	})
}

func TestNewerSchemaIsRefusedUntouched(t *testing.T) {
	for _, b := range []string{BackendSQLite, BackendPostgres} {
		t.Run(b, func(t *testing.T) {
			opts := backendOptions(t, b, Options{})
			st := openStore(t, opts)
			ctx := ctxFor(t)
			// What a newer xtokend would have done: a migration this
			// build does not know.
			newer := SchemaVersion() + 1
			for _, q := range []string{
				`CREATE TABLE from_the_future (x INTEGER)`,
				`INSERT INTO from_the_future (x) VALUES (7)`,
				st.q(`UPDATE schema_version SET version = ?`),
			} {
				args := []any{}
				if strings.Contains(q, "version =") {
					args = append(args, newer)
				}
				if _, err := st.w.ExecContext(ctx, q, args...); err != nil {
					t.Fatal(err)
				}
			}
			st.Close()

			_, err := Open(ctx, opts)
			if !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("Open = %v, want ErrNewerSchema", err)
			}
			if !strings.Contains(err.Error(), "upgrade xtokend") {
				t.Errorf("error does not say what to do: %v", err)
			}
			// Look at it through a store that skips the migration.
			raw := openUnmigrated(t, opts)
			var v, x int
			if err := raw.r.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil || v != newer {
				t.Errorf("schema_version = %d, %v; want %d", v, err, newer)
			}
			if err := raw.r.QueryRowContext(ctx, `SELECT x FROM from_the_future`).Scan(&x); err != nil || x != 7 {
				t.Errorf("the newer table: %d, %v", x, err)
			}
		})
	}
}

// openUnmigrated opens the database as Open does, without migrating.
func openUnmigrated(t *testing.T, opts Options) *Store {
	t.Helper()
	s := &Store{lim: opts.limits(), opts: opts}
	var err error
	if opts.Backend == BackendPostgres {
		err = s.openPostgres(ctxFor(t), opts)
	} else {
		err = s.openSQLite(ctxFor(t), opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
