package storage

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperEnv, set to a folder, makes TestDurabilityWriter the child process
// that writes into a database there until it is killed.
const helperEnv = "XTOKEND_STORAGE_WRITER_DIR"

// A write acknowledged by SQLite survives kill -9 of the process in the
// middle of other writes: a child process stores messages from several
// goroutines and prints each ID once Store returned; the test kills it
// after enough of them, reopens the file and finds every one.
func TestDurabilityAfterKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int64]string{}
	sc := bufio.NewScanner(out)
	for len(acked) < 300 && sc.Scan() {
		id, body, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue // the test framework's own lines
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			continue
		}
		acked[n] = body
	}
	cmd.Process.Kill() // SIGKILL: no deferred Close, no clean shutdown
	cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("the writer stopped after %d acknowledged messages", len(acked))
	}

	st := openStore(t, Options{Dir: dir, Path: "durable.db"})
	msgs, err := st.Offline().Fetch(ctxFor(t), juliet, 0)
	if err != nil {
		t.Fatal(err)
	}
	have := make(map[int64]string, len(msgs))
	for _, m := range msgs {
		have[m.ID] = string(m.Stanza)
	}
	for id, body := range acked {
		if have[id] != body {
			t.Errorf("acknowledged message %d: stored %q, want %q", id, have[id], body)
		}
	}
	t.Logf("%d acknowledged, %d stored (the rest were in flight)", len(acked), len(msgs))
}

// The settings durability rests on are those in force on the connection
// that writes: a kill -9 alone cannot tell synchronous=FULL from OFF.
func TestSQLiteDurableSettings(t *testing.T) {
	st := openStore(t, backendOptions(t, BackendSQLite, Options{}))
	ctx := ctxFor(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": strconv.Itoa(sqliteBusyTimeout)} {
		var got string
		if err := st.w.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
}

// TestDurabilityWriter is the child process of TestDurabilityAfterKill.
func TestDurabilityWriter(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("the child process of TestDurabilityAfterKill")
	}
	st, err := Open(context.Background(), Options{Dir: dir, Path: "durable.db", MaxOfflineMessages: maxLimit})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				body := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				id, err := st.Offline().Store(ctx, juliet, romeo, time.Now(), []byte(body))
				cancel()
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Printf("%d %s\n", id, body)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
