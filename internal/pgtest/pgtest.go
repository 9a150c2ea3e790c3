// Package pgtest runs throwaway PostgreSQL servers for tests: each in a
// temporary folder of its own, listening on a unix socket only (no TCP
// port to collide with), stopped and removed at the end.
//
// A test that needs one calls Start, or Shared for one server a whole test
// binary reuses, and takes a fresh database from it with NewDatabase:
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.Shared(t).NewDatabase(t)
//		...
//	}
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pgtest.StopShared()
//		os.Exit(code)
//	}
//
// When PostgreSQL is not installed (Debian's package postgresql, which
// scripts/install-test-deps.sh installs), the test is skipped with a message
// naming the package, or fails when CI=true. Run as root, the server runs as
// the user postgres, since PostgreSQL refuses to run as root.
//
// pgtest is for tests only; nothing the server ships imports it.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// ErrNotInstalled is Start's error when no PostgreSQL can be run here.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL is not installed (Debian package postgresql; scripts/install-test-deps.sh installs it)")

// port only names the socket file: each server has a folder of its own.
const port = 5432

// Server is one running PostgreSQL.
type Server struct {
	dir   string // holds data/, the socket and the log
	bin   string // the folder of initdb, pg_ctl, postgres
	runAs string // "postgres" when the tests run as root, else ""

	watchdog *exec.Cmd // stops the server if this process dies without Stop

	mu      sync.Mutex
	stopped bool
	dbs     atomic.Int64
}

// Start starts a server for t, stopped when t ends; without PostgreSQL it
// skips t, or fails it when CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New(context.Background())
	if err != nil {
		Require(t, err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// Require skips t (or fails it, when CI=true) for ErrNotInstalled, and
// fails it for any other error.
func Require(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true":
		t.Skip(err)
	default:
		t.Fatal(err)
	}
}

var shared struct {
	once sync.Once
	s    *Server
	err  error
}

// Shared returns the test binary's one shared server, started at the first
// call; the binary's TestMain stops it with StopShared. Without PostgreSQL
// it skips t, or fails it when CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() { shared.s, shared.err = New(context.Background()) })
	Require(t, shared.err)
	return shared.s
}

// StopShared stops the shared server, if Shared started one.
func StopShared() {
	if shared.s != nil {
		if err := shared.s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}

// New starts a server: initdb in a new temporary folder, then pg_ctl start.
// ctx bounds the start.
func New(ctx context.Context) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Getuid() == 0 {
		s.runAs = "postgres"
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, fmt.Errorf("%w: runuser not found, needed to run it as the user postgres", ErrNotInstalled)
		}
	}
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if s.runAs != "" {
		u, err := user.Lookup(s.runAs)
		if err != nil {
			os.RemoveAll(s.dir)
			return nil, fmt.Errorf("%w: no user %s", ErrNotInstalled, s.runAs)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			os.RemoveAll(s.dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	data := filepath.Join(s.dir, "data")
	// No fsync: a test server's data need not survive the machine.
	if out, err := s.run(ctx, "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(s.dir)
		return nil, fmt.Errorf("pgtest: initdb: %v: %s", err, lastLine(out))
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, s.dir)
	if out, err := s.run(ctx, "pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		os.RemoveAll(s.dir)
		return nil, fmt.Errorf("pgtest: pg_ctl start: %v: %s %s", err, lastLine(out), lastLine(log))
	}
	s.startWatchdog()
	return s, nil
}

// watchdogScript stops the server (the command after $1) and removes its
// folder ($0) once the test process ($1) is gone: a test binary killed by its -timeout runs no
// cleanup, and a server left behind would run on for good. Stop ends the
// watchdog first.
const watchdogScript = `pid=$1; shift
while kill -0 "$pid" 2>/dev/null; do sleep 1; done
"$@" >/dev/null 2>&1
rm -rf "$0"`

func (s *Server) startWatchdog() {
	stop := s.command(context.Background(), "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	args := append([]string{"-c", watchdogScript, s.dir, strconv.Itoa(os.Getpid())}, stop.Args...)
	w := exec.Command("/bin/sh", args...)
	// Its own process group: an interrupt of the test's group (Ctrl-C)
	// must leave it alive to clean up.
	w.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.Start(); err == nil {
		s.watchdog = w
	}
}

// DSN is the connection string of database db on the server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", s.dir, port, db)
}

// NewDatabase creates an empty database for t, and returns its DSN.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test%d", s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return s.DSN(name)
}

// Stop stops the server at once (connections are cut) and removes its
// folder. Later calls do nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	if w := s.watchdog; w != nil {
		w.Process.Kill()
		w.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := s.run(ctx, "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v: %s (left %s)", err, lastLine(out), s.dir)
	}
	return os.RemoveAll(s.dir)
}

func (s *Server) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	return s.command(ctx, prog, args...).CombinedOutput()
}

// command is prog of the server's PostgreSQL, run as the server's user.
func (s *Server) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = s.dir
	return cmd
}

// findBin finds the folder of pg_ctl and initdb: on PATH, or Debian's
// /usr/lib/postgresql/VERSION/bin, the newest version.
func findBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dir := filepath.Dir(real)
			if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
				return dir, nil
			}
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(found, func(i, j int) bool { return version(found[i]) < version(found[j]) })
	if len(found) == 0 {
		return "", ErrNotInstalled
	}
	return filepath.Dir(found[len(found)-1]), nil
}

func version(pgctl string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(pgctl))))
	return v
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
