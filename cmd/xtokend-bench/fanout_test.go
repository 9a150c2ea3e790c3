package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// The fanout command against the real server: xtokend built from this tree with its default
// storage (SQLite) and an admin socket, the rosters written by the seed command.
func TestFanoutAgainstXtokend(t *testing.T) {
	bin := xtokendBinary(t)
	dir, err := os.MkdirTemp("", "fan") // short: a unix socket's path has a limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	addr := testkit.FreeAddr(t)
	secret, seed := filepath.Join(dir, "access_secret"), filepath.Join(dir, "otp_seed")
	sock := filepath.Join(dir, "x.sock")
	for path, text := range map[string]string{
		secret: "fanout-test-access-secret-0123456789abcdef",
		seed:   "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
		filepath.Join(dir, "xtokend.toml"): fmt.Sprintf(`[general]
hosts = ["localhost"]
listen = %q
admin_socket = %q
log_level = "warn"

[tls]
require_starttls = false

[modules.mod_keystore]
keys = [
  { name = "access_secret", type = "file", path = "access_secret" },
  { name = "otp_seed", type = "file", path = "otp_seed", encoding = "base32" },
]
`, addr, sock),
	} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &testkit.LogBuffer{}
	cmd := exec.Command(bin, "serve", "-config", filepath.Join(dir, "xtokend.toml"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("xtokend log:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		_, serr := os.Stat(sock)
		if err == nil {
			c.Close()
			if serr == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("xtokend did not listen in 30 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	const n, broadcasts = 30, 6
	var stdout, stderr lockedBuffer
	fanout := []string{"fanout", "-addr", addr, "-server", "xtokend", "-secret-file", secret, "-seed-file", seed,
		"-server-pid", fmt.Sprint(cmd.Process.Pid), "-subscribers", fmt.Sprint(n), "-broadcasts", fmt.Sprint(broadcasts), "-warmup", "1"}

	// Before the rosters are seeded nobody is subscribed: the command says so.
	if code := run(append(fanout, "-wait", "1s"), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "are the rosters seeded") {
		t.Fatalf("unseeded: exit %d\n%s", code, stderr.String())
	}
	if err := seedXtokend(context.Background(), &rosterPlan{users: 1, online: n, contacts: n}, "localhost", sock); err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, "fan.jsonl")
	if code := run(append(fanout, "-json", jsonPath), &stdout, &stderr); code != 0 {
		t.Fatalf("fanout exited %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("want one JSON line: %v\n%s", err, b)
	}
	if r.Mode != "fanout" || r.Server != "xtokend" || r.Concurrency != n || r.Ops != broadcasts || r.Errors != 0 || r.TLS {
		t.Errorf("result: %+v", r)
	}
	if r.Rate <= 0 || r.P50ms <= 0 || r.P99ms < r.P50ms || r.MaxMs < r.P99ms {
		t.Errorf("rate and latencies: %+v", r)
	}
}
