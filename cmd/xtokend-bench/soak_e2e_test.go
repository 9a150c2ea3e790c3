package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// The soak against the real server: xtokend built from this tree, started as a process with
// file keys the tool mints its tokens from, plaintext or STARTTLS on loopback.

var (
	buildOnce sync.Once
	buildDir  string
	builtPath string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// xtokendBinary builds cmd/xtokend once for the test binary.
func xtokendBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		var err error
		if buildDir, err = os.MkdirTemp("", "xtokend-bench-test-"); err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(buildDir, "xtokend")
		out, err := exec.Command("go", "build", "-o", builtPath, "github.com/xtokend/xtokend/cmd/xtokend").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

// soakServer is a running xtokend.
type soakServer struct {
	cmd                  *exec.Cmd
	addr, metrics, dir   string
	ws                   string // the ws:// URL of its [websocket] listener
	secretFile, seedFile string
	logs                 *testkit.LogBuffer
	done                 chan struct{}
}

func startXtokend(t *testing.T, requireTLS bool) *soakServer {
	t.Helper()
	bin := xtokendBinary(t)
	dir := t.TempDir()
	s := &soakServer{dir: dir, addr: testkit.FreeAddr(t), metrics: testkit.FreeAddr(t), logs: &testkit.LogBuffer{}, done: make(chan struct{}),
		secretFile: filepath.Join(dir, "access_secret"), seedFile: filepath.Join(dir, "otp_seed")}
	wsAddr := testkit.FreeAddr(t)
	s.ws = "ws://" + wsAddr + "/xmpp-websocket"
	for path, text := range map[string]string{
		s.secretFile: "soak-test-access-secret-0123456789abcdef",
		s.seedFile:   "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
		filepath.Join(dir, "xtokend.toml"): fmt.Sprintf(`[general]
hosts = ["localhost"]
listen = %q
metrics_listen = %q
admin_socket = ""
log_level = "warn"

[tls]
require_starttls = %v

[websocket]
listen = %q

[modules.mod_keystore]
keys = [
  { name = "access_secret", type = "file", path = "access_secret" },
  { name = "otp_seed", type = "file", path = "otp_seed", encoding = "base32" },
]
`, s.addr, s.metrics, requireTLS, wsAddr),
	} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.cmd = exec.Command(bin, "serve", "-config", filepath.Join(dir, "xtokend.toml"))
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("xtokend log:\n%s", s.logs.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		c1, err1 := net.Dial("tcp", s.addr)
		c2, err2 := net.Dial("tcp", s.metrics)
		if err1 == nil {
			c1.Close()
		}
		if err2 == nil {
			c2.Close()
		}
		if err1 == nil && err2 == nil {
			break
		}
		select {
		case <-s.done:
			t.Fatalf("xtokend exited at start:\n%s", s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("xtokend did not listen in 30 s: %v, %v", err1, err2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func (s *soakServer) soakArgs(jsonPath string, extra ...string) []string {
	return append([]string{"soak", "-addr", s.addr, "-server", "xtokend", "-secret-file", s.secretFile, "-seed-file", s.seedFile,
		"-pid", fmt.Sprint(s.cmd.Process.Pid), "-metrics", "http://" + s.metrics + "/metrics", "-json", jsonPath,
		// Timed tests judge counts, never speed or memory.
		"-min-rate", "0", "-max-rss-growth", "0"}, extra...)
}

// lockedBuffer is a bytes.Buffer the tool writes to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func readSoakReport(t *testing.T, path string) *soakReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r soakReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("the JSON report: %v\n%s", err, b)
	}
	return &r
}

func TestSoakAgainstXtokend(t *testing.T) {
	for _, c := range []struct {
		name string
		tls  bool
	}{{"plaintext", false}, {"starttls", true}} {
		t.Run(c.name, func(t *testing.T) {
			srv := startXtokend(t, c.tls)
			const idle, rate = 40, 50
			jsonPath := filepath.Join(t.TempDir(), "soak.json")
			args := srv.soakArgs(jsonPath, "-idle", fmt.Sprint(idle), "-rate", fmt.Sprint(rate), "-duration", "4s", "-sample", "1s",
				"-presence", "-users", "7")
			if c.tls {
				args = append(args, "-tls")
			}
			var stdout, stderr lockedBuffer
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("soak exited %d\n%s\n%s", code, stdout.String(), stderr.String())
			}
			r := readSoakReport(t, jsonPath)
			if !r.OK || len(r.Problems) != 0 || r.TLS != c.tls {
				t.Errorf("OK %v, problems %v, tls %v", r.OK, r.Problems, r.TLS)
			}
			if r.IdleOpened != idle || r.Lost != 0 || r.Pings.Sent != idle || r.Pings.Answered != idle {
				t.Errorf("idle: opened %d, lost %d, pings %+v", r.IdleOpened, r.Lost, r.Pings)
			}
			if r.LoginsOK == 0 || r.LoginsFailed != 0 || len(r.Failures) != 0 {
				t.Errorf("logins: %d ok, %d failed %v", r.LoginsOK, r.LoginsFailed, r.Failures)
			}
			var sum int64
			for _, s := range r.Samples {
				sum += s.LoginsOK
				// Each idle session is a socket in the server; not a goroutine:
				// an idle session is parked on the server's epoll set.
				if s.RSSKB <= 0 || s.Goroutines <= 0 || s.FDs < idle || s.IdleOpen != idle || s.ProbeError != "" {
					t.Errorf("sample %+v", s)
				}
			}
			if sum != r.LoginsOK || len(r.Samples) < 4 || r.Samples[len(r.Samples)-1].Phase != "end" {
				t.Errorf("%d samples adding up to %d logins, report says %d", len(r.Samples), sum, r.LoginsOK)
			}
			if !strings.Contains(stdout.String(), "verdict: OK") {
				t.Errorf("text report:\n%s", stdout.String())
			}
		})
	}
}

// A server that dies mid-run: every idle session is lost, logins fail, and the exit status
// says so.
func TestSoakServerKilled(t *testing.T) {
	srv := startXtokend(t, false)
	const idle = 30
	jsonPath := filepath.Join(t.TempDir(), "soak.json")
	args := srv.soakArgs(jsonPath, "-idle", fmt.Sprint(idle), "-rate", "50", "-duration", "5s", "-sample", "1s", "-ping-timeout", "1s")
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	go func() { code <- run(args, &stdout, &stderr) }()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "t=1s"); {
		if time.Now().After(deadline) {
			t.Fatalf("the load did not start:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.cmd.Process.Kill()
	<-srv.done
	if got := <-code; got != 3 {
		t.Fatalf("soak exited %d after the server was killed, want 3\n%s\n%s", got, stdout.String(), stderr.String())
	}
	r := readSoakReport(t, jsonPath)
	if r.OK || r.IdleOpened != idle || r.Lost != idle || r.Pings.Sent != 0 {
		t.Errorf("OK %v, opened %d, lost %d (%v), pings %+v", r.OK, r.IdleOpened, r.Lost, r.LostReasons, r.Pings)
	}
	for reason := range r.LostReasons {
		if reason != "connection closed" && reason != "connection reset" {
			t.Errorf("lost for %q", reason)
		}
	}
	if r.LoginsOK == 0 || r.LoginsFailed == 0 || r.Failures["dial: connection refused"].Count == 0 {
		t.Errorf("logins: %d ok, %d failed %v", r.LoginsOK, r.LoginsFailed, r.Failures)
	}
	if !strings.Contains(stderr.String(), "soak: FAILED: 30 idle sessions lost") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
