package storage

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/pgtest"
)

// slack is what a loaded machine may add to a deadline before a call
// returns; a call that hangs takes far longer.
const slack = 3 * time.Second

// checkUnavailable calls fn with a deadline and wants ErrUnavailable back
// about when the deadline passes, not later.
func checkUnavailable(t *testing.T, what string, deadline time.Duration, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	took := time.Since(start)
	t.Logf("%s: %v, after %v", what, err, took.Round(time.Millisecond))
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("%s: %v; want ErrUnavailable", what, err)
	}
	if took > deadline+slack {
		t.Errorf("%s took %v with a deadline of %v", what, took, deadline)
	}
}

// PostgreSQL stopped under an open Store: calls fail with ErrUnavailable
// within their deadline.
func TestPostgresDown(t *testing.T) {
	srv := pgtest.Start(t)
	st := openStore(t, Options{Backend: BackendPostgres, DSN: srv.NewDatabase(t)})
	ctx := ctxFor(t)
	if _, err := st.Rosters().Put(ctx, juliet, Item{Contact: romeo, Subscription: SubBoth}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	const deadline = 2 * time.Second
	checkUnavailable(t, "roster get", deadline, func(ctx context.Context) error {
		_, err := st.Rosters().Get(ctx, juliet)
		return err
	})
	checkUnavailable(t, "offline store", deadline, func(ctx context.Context) error {
		_, err := st.Offline().Store(ctx, juliet, romeo, time.Now(), []byte("<message/>"))
		return err
	})
	checkUnavailable(t, "is blocked", deadline, func(ctx context.Context) error {
		_, err := st.BlockLists().IsBlocked(ctx, juliet, romeo)
		return err
	})
}

// A table another transaction holds locked makes a write wait; the
// caller's deadline ends the wait.
func TestPostgresLockedTable(t *testing.T) {
	opts := backendOptions(t, BackendPostgres, Options{})
	st := openStore(t, opts)
	ctx := ctxFor(t)
	other, err := sql.Open("pgx", opts.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `LOCK TABLE offline_messages IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	checkUnavailable(t, "offline store", 500*time.Millisecond, func(ctx context.Context) error {
		_, err := st.Offline().Store(ctx, juliet, romeo, time.Now(), []byte("<message/>"))
		return err
	})
	tx.Rollback()
	if _, err := st.Offline().Store(ctx, juliet, romeo, time.Now(), []byte("<message/>")); err != nil {
		t.Errorf("after the lock is gone: %v", err)
	}
}

// SQLite locked by another process's write transaction: writes fail with
// ErrUnavailable at their deadline, reads go on (WAL).
func TestSQLiteLocked(t *testing.T) {
	opts := backendOptions(t, BackendSQLite, Options{})
	st := openStore(t, opts)
	ctx := ctxFor(t)
	if _, err := st.Rosters().Put(ctx, juliet, Item{Contact: romeo, Subscription: SubBoth}); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", "file:"+opts.SQLitePath())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), `ROLLBACK`)

	checkUnavailable(t, "roster put", 300*time.Millisecond, func(ctx context.Context) error {
		_, err := st.Rosters().Put(ctx, juliet, Item{Contact: nurse, Subscription: SubNone})
		return err
	})
	checkUnavailable(t, "offline store", 300*time.Millisecond, func(ctx context.Context) error {
		_, err := st.Offline().Store(ctx, juliet, romeo, time.Now(), []byte("<message/>"))
		return err
	})
	if ro, err := st.Rosters().Get(ctx, juliet); err != nil || len(ro.Items) != 1 {
		t.Errorf("read beside the lock: %+v, %v", ro, err)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Rosters().Put(ctx, juliet, Item{Contact: nurse, Subscription: SubNone}); err != nil {
		t.Errorf("after the lock is gone: %v", err)
	}
}
