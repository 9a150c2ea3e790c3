package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// eachBackend runs fn against a fresh, empty database of each backend:
// SQLite in a temporary folder and PostgreSQL on the test binary's own
// throwaway server. opts are the caps; the backend fields are filled in.
func eachBackend(t *testing.T, opts Options, fn func(t *testing.T, st *Store)) {
	t.Helper()
	for _, b := range []string{BackendSQLite, BackendPostgres} {
		t.Run(b, func(t *testing.T) {
			st := openStore(t, backendOptions(t, b, opts))
			fn(t, st)
		})
	}
}

// backendOptions are opts pointed at a fresh database of backend b.
func backendOptions(t *testing.T, b string, opts Options) Options {
	t.Helper()
	opts.Backend = b
	switch b {
	case BackendSQLite:
		opts.Dir = t.TempDir()
		opts.Path = "test.db"
	case BackendPostgres:
		opts.DSN = pgtest.Shared(t).NewDatabase(t)
	}
	return opts
}

func openStore(t *testing.T, opts Options) *Store {
	t.Helper()
	st, err := Open(ctxFor(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// ctxFor is the deadline a server would give a call, generous for a
// loaded test machine.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDefaultPathIsBesideTheConfig(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions()
	opts.Dir = dir
	st := openStore(t, opts)
	if st.Backend() != BackendSQLite {
		t.Errorf("Backend() = %q", st.Backend())
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultPath)); err != nil {
		t.Errorf("no database file beside the config: %v", err)
	}
}
