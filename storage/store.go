package storage

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// sqliteBusyTimeout is how long, in ms, SQLite waits for another process's
// lock on the file; a call's context ends the wait sooner.
const sqliteBusyTimeout = 10000

// Store is an open database. It is safe for concurrent use.
type Store struct {
	d    *dialect
	w    *sql.DB // writes; on SQLite one connection, so that writers queue here, honouring their contexts
	r    *sql.DB // reads; on PostgreSQL the same pool as w
	lim  limits
	opts Options

	// stmts are the reads' statements, prepared once per query text (see
	// read): SQLite would otherwise compile each statement on every call,
	// and a login reads the roster, its version and requests.
	stmts sync.Map // query -> *sql.Stmt

	offline *offlineWriter // commits offline stores together
}

// Open opens the database the options name, creating a SQLite file if
// there is none, and migrates its schema (see ErrNewerSchema). ctx bounds
// the connection and the migration.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	s := &Store{lim: opts.limits(), opts: opts}
	var err error
	switch opts.Backend {
	case BackendPostgres:
		err = s.openPostgres(ctx, opts)
	default:
		err = s.openSQLite(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.offline = startOfflineWriter(s)
	return s, nil
}

func (s *Store) openSQLite(ctx context.Context, opts Options) error {
	s.d = newSQLiteDialect()
	path, err := filepath.Abs(opts.SQLitePath())
	if err != nil {
		return fmt.Errorf("storage: storage.path: %w", err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return fmt.Errorf("storage: storage.path = %q: the folder %q does not exist", opts.Path, filepath.Dir(path))
	}
	// WAL lets readers run beside the writer; synchronous=FULL syncs the
	// log at each commit, so an acknowledged write survives a crash.
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)", sqliteBusyTimeout)
	// BEGIN IMMEDIATE: a write transaction takes the write lock at once,
	// rather than failing with SQLITE_BUSY when it first writes.
	if s.w, err = sql.Open("sqlite", base+"&_txlock=immediate"); err != nil {
		return wrap("open", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetConnMaxIdleTime(0)
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return wrap(fmt.Sprintf("open %q", path), err)
	}
	if s.r, err = sql.Open("sqlite", base+"&_pragma=query_only(1)"); err != nil {
		s.w.Close()
		return wrap("open", err)
	}
	s.r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	s.r.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	return nil
}

func (s *Store) openPostgres(ctx context.Context, opts Options) error {
	s.d = newPostgresDialect()
	dsn, err := opts.ResolveDSN()
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parser's text may quote the DSN, password and all.
		return fmt.Errorf("storage: %s: not a valid PostgreSQL connection string", dsnOption(opts))
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return wrap("connect to PostgreSQL", err)
	}
	s.w, s.r = db, db
	return nil
}

func dsnOption(o Options) string {
	if o.DSNEnv != "" {
		return fmt.Sprintf("storage.dsn_env = %q", o.DSNEnv)
	}
	return "storage.dsn"
}

// Backend names the open database's backend: "sqlite" or "postgres".
func (s *Store) Backend() string { return s.d.name }

// Close closes the database; calls in progress finish first.
func (s *Store) Close() error {
	if s.offline != nil {
		s.offline.stop()
	}
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	err := s.w.Close()
	if s.r != s.w {
		if e := s.r.Close(); err == nil {
			err = e
		}
	}
	return wrap("close", err)
}

// write runs fn in a write transaction, committed when fn returns nil.
func (s *Store) write(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return wrap(op, err)
	}
	return wrap(op, tx.Commit())
}

// lock takes the transaction-long lock on one user's rows of one kind
// (a no-op on SQLite, whose write transactions hold the whole file).
func (s *Store) lock(ctx context.Context, tx *sql.Tx, kind, user string) error {
	if s.d.lockUser == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.d.rebind(s.d.lockUser), kind+":"+user)
	return err
}

// read runs a read-only query (written with "?" placeholders) through its
// prepared statement on the read pool.
func (s *Store) read(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// readRow is read for one row.
func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, query)
	if err != nil {
		// The same call unprepared gives the Row its error.
		return s.r.QueryRowContext(ctx, s.q(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.r.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close() // another call prepared it first
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// q is the query in the dialect's placeholders.
func (s *Store) q(query string) string { return s.d.rebind(query) }

// placeholders is "?, ?, ..." for n arguments.
func placeholders(n int) string {
	b := make([]byte, 0, 3*n)
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '?')
	}
	return string(b)
}
