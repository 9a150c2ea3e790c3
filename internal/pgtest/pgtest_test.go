package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartQueryStop(t *testing.T) {
	s := Start(t)
	dsn := s.NewDatabase(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT 6 * 7").Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT 6 * 7 = %d, %v", n, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("folder %s left after Stop: %v", s.dir, err)
	}
	db.SetMaxIdleConns(0)
	if err := db.PingContext(ctx); err == nil {
		t.Error("the server answers after Stop")
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// A test process that dies without calling Stop (killed by -timeout, say)
// leaves no server behind: the watchdog stops it and removes its folder.
func TestWatchdogStopsAnOrphan(t *testing.T) {
	if dir := os.Getenv("PGTEST_ORPHAN_FILE"); dir != "" {
		s, err := New(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pid, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dir, []byte(s.dir+"\n"+lastLine(pid[:bytes.IndexByte(pid, '\n')])), 0o600)
		os.Exit(0) // no Stop
	}
	if _, err := findBin(); err != nil {
		Require(t, err)
	}
	note := filepath.Join(t.TempDir(), "dir")
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchdogStopsAnOrphan$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PGTEST_ORPHAN_FILE="+note)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	b, err := os.ReadFile(note)
	dir, pidText, _ := strings.Cut(string(b), "\n")
	pid, perr := strconv.Atoi(pidText)
	if err != nil || perr != nil {
		t.Fatalf("the child did not start a server: %q, %v", b, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGQUIT) // not to leave it running
			t.Fatalf("the orphan server's folder %s is still there after a minute", dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The watchdog removes the folder only once pg_ctl saw the server
	// exit. (PostgreSQL would notice its folder gone and exit by itself,
	// later: that is no cleanup to count on.)
	if running(pid) {
		syscall.Kill(pid, syscall.SIGQUIT)
		t.Fatalf("the orphan server (pid %d) still ran when its folder was removed", pid)
	}
	// Its socket is gone with it: nothing listens.
	db, _ := sql.Open("pgx", "host="+dir+" port=5432 user=postgres dbname=postgres connect_timeout=2")
	defer db.Close()
	if err := db.Ping(); err == nil {
		t.Error("the orphan server still answers")
	}
}

// running reports whether process pid runs: it exists and is no zombie
// (an exited process its parent, here init, has not reaped yet).
func running(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
