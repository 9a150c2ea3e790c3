package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// startTimeout bounds how long a server may take to start accepting; it guards against a hang
// and is not an assertion on speed.
const startTimeout = 30 * time.Second

// server is one running `xtokend serve`, with what the tests need to mint tokens for it.
type server struct {
	addr       string // host:port of the c2s listener
	wsAddr     string // host:port of the WebSocket listener, when there is one
	configPath string
	socketPath string        // admin socket
	file       prosodyMinter // fileHost's keys, as a Prosody-style issuer holds them

	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited
	stopOnce sync.Once
	log      *testkit.LogBuffer // the server's stdout and stderr

	mu      sync.Mutex
	secrets []string // every token and key the test used: none may appear in the log

	plain bool // mod_auth_token's plain = true: SASL PLAIN offered beside X-TOKEN
}

// startServer writes a configuration with fileHost (file keys in Prosody's format) and ramHost
// (RAM keys) into t.TempDir(), starts the server on a free loopback port and stops it with SIGTERM
// in t.Cleanup, which also checks that it exited 0 and logged no secret.
func startServer(t *testing.T) *server {
	t.Helper()
	return startServerPlain(t, false)
}

// startServerPlain is startServer; plain sets mod_auth_token's plain = true for both hosts.
func startServerPlain(t *testing.T, plain bool) *server {
	t.Helper()
	return startServerWith(t, plain, false)
}

// startServerWith is startServerPlain; ws adds a ws:// [websocket] listener (at s.wsAddr) as the
// browser test configures it, SASL offered on plaintext streams.
func startServerWith(t *testing.T, plain, ws bool) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{
		plain:      plain,
		socketPath: filepath.Join(dir, "admin.sock"),
		file: prosodyMinter{
			// Prosody's token_secret is a string and its otp_seed base32, as in its README.
			secret: []byte(randomBase32(t, 32)),
			seed:   randomBase32(t, 32), // 20 bytes, whole base32 groups
			digits: 8,
			period: 30,
		},
	}
	s.addSecret(string(s.file.secret), s.file.seed)
	keys := filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	// A trailing newline, as an editor or `echo` leaves it: the keystore trims it.
	writeFile(t, filepath.Join(keys, "file_access_secret"), string(s.file.secret)+"\n")
	writeFile(t, filepath.Join(keys, "file_otp_seed"), s.file.seed+"\n")

	// The port is free when picked but may be taken before the server binds it: retry then.
	var lastErr error
	for range 5 {
		port := freePort(t)
		s.addr = net.JoinHostPort("127.0.0.1", port)
		s.configPath = filepath.Join(dir, "xtokend.toml")
		cfg := s.config()
		if ws {
			s.wsAddr = net.JoinHostPort("127.0.0.1", freePort(t))
			cfg = browserConfig(s, s.wsAddr, "http://localhost")
		}
		writeFile(t, s.configPath, cfg)
		lastErr = s.start(t)
		if lastErr == nil {
			t.Cleanup(func() { s.stop(t) })
			if ws {
				waitAccepting(t, s, s.wsAddr)
			}
			return s
		}
		if !strings.Contains(s.log.String(), "address already in use") {
			break
		}
	}
	t.Fatalf("xtokend serve did not start: %v\nserver log:\n%s", lastErr, s.log)
	return nil
}

// config is the TOML file: SPEC.md section 2, with fileHost configured as a Prosody VirtualHost
// with token_secret and otp_seed would be ("From Prosody").
func (s *server) config() string {
	return fmt.Sprintf(`[general]
hosts = [%q, %q]
listen = %q
admin_socket = %q
log_level = "debug"

[tls]
cert = %q
key = %q
require_starttls = true

# ramHost has no section of its own: the global keystore, two RAM keys.
[modules.mod_keystore]
ram_key_size = 64
keys = [
  { name = "access_secret", type = "ram" },
  { name = "otp_seed", type = "ram" },
]

[modules.mod_auth_token]
otp_digits = 8
otp_period = 30
otp_skew = 1
nonce_digits = 32
replay_protection = true
plain = %t

[[host_config]]
host = %q
  [host_config.modules.mod_keystore]
  keys = [
    { name = "access_secret", type = "file", path = "keys/file_access_secret" },
    { name = "otp_seed", type = "file", path = "keys/file_otp_seed", encoding = "base32" },
  ]
`, fileHost, ramHost, s.addr, s.socketPath, certPath, keyPath, s.plain, fileHost)
}

// start runs the binary and waits until the c2s port accepts, or the process exits, or
// startTimeout passes.
func (s *server) start(t *testing.T) error {
	t.Helper()
	s.log = &testkit.LogBuffer{}
	s.cmd = exec.Command(binPath, "serve", "-config", s.configPath)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("exited during start-up: %v", s.cmd.ProcessState)
		default:
		}
		if s.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("not accepting on %s after %v", s.addr, startTimeout)
		}
		time.Sleep(20 * time.Millisecond) // polling a port: there is nothing to wait on
	}
}

// ready reports whether this process listens on s.addr: its log says so, and the port accepts.
// A dial alone is not enough: the port may have been taken between freePort and the bind (by
// another test's server, or as a client's ephemeral port), and the dial then reaches that one
// while this process exits with "address already in use".
func (s *server) ready() bool {
	if !strings.Contains(s.log.String(), "msg=listening addr="+s.addr+" ") {
		return false
	}
	c, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitAdminSocket waits until the admin socket exists: the server may bind it a moment after the
// c2s listener.
func (s *server) waitAdminSocket(t *testing.T) {
	t.Helper()
	// Polling a path: there is nothing to wait on.
	testkit.Eventually(t, startTimeout, "no admin socket at "+s.socketPath, func() bool {
		if _, err := os.Stat(s.socketPath); err == nil {
			return true
		}
		select {
		case <-s.done:
			t.Fatalf("xtokend exited: %v", s.cmd.ProcessState)
		default:
		}
		return false
	})
}

// stop sends SIGTERM and expects exit code 0 (SPEC.md section 4), a clean log and no secret in it.
// A test may call it; t.Cleanup calls it anyway, and only the first call does anything.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() { s.stopNow(t) })
}

func (s *server) stopNow(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(startTimeout):
		s.kill()
		t.Errorf("xtokend did not exit within %v of SIGTERM", startTimeout)
	}
	log := s.log.String()
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("xtokend exited %d after SIGTERM, want 0", code)
	}
	if strings.Contains(log, "WARNING: DATA RACE") {
		t.Errorf("the race detector fired in xtokend")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, secret := range s.secrets {
		if strings.Contains(log, secret) {
			t.Errorf("the server log holds a secret (a token, or part of one, or a key)")
			break
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("server log:\n%s", log)
	}
}

func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// addSecret records strings that must never reach the server's log.
func (s *server) addSecret(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = append(s.secrets, secrets...)
}

// addToken records a token's two halves (OTP||NONCE and the HMAC) as secrets.
func (s *server) addToken(token string) {
	digits, sig, _ := strings.Cut(token, " ")
	s.addSecret(token, digits, sig)
}

// mintedToken is the JSON of `xtokend token -json`.
type mintedToken struct {
	JID       string    `json:"jid"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// cli returns a function minting a token for jid with the binary's `token` command, for a
// login's mint: file keys are read from the configuration's files, a RAM-key host is asked over
// the admin socket.
func (s *server) cli(t *testing.T, jid string) func() string {
	return func() string { return s.mint(t, jid).Token }
}

// mint runs `xtokend token -config F -json jid` and checks its output.
func (s *server) mint(t *testing.T, jid string) mintedToken {
	t.Helper()
	if strings.HasSuffix(jid, "@"+ramHost) {
		s.waitAdminSocket(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binPath, "token", "-config", s.configPath, "-json", jid)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("xtokend token %s: %v\nstderr: %s", jid, err, stderr.String())
	}
	var m mintedToken
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("xtokend token -json %s: output is not JSON (%v)", jid, err)
	}
	if m.Token == "" || m.ExpiresAt.IsZero() || !m.ExpiresAt.After(time.Now().Add(-time.Minute)) {
		t.Fatalf("xtokend token -json %s: jid %q, expires_at %v, token empty: %t", jid, m.JID, m.ExpiresAt, m.Token == "")
	}
	if m.JID != jid {
		t.Errorf("xtokend token -json %s: jid = %q", jid, m.JID)
	}
	s.addToken(m.Token)
	return m
}

// prosody returns a function minting a token for node@fileHost at now+offset with the tests'
// own minter, for a login's mint.
func (s *server) prosody(t *testing.T, node string, offset time.Duration) func() string {
	return func() string { return s.prosodyToken(t, node, time.Now().Add(offset)) }
}

// prosodyToken mints a token for node@fileHost at a given time with the tests' own minter.
func (s *server) prosodyToken(t *testing.T, node string, at time.Time) string {
	t.Helper()
	tok, err := s.file.token(node, fileHost, at, randomNonce(t, 32))
	if err != nil {
		t.Fatal(err)
	}
	s.addToken(tok)
	return tok
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(testkit.FreeAddr(t))
	return port
}

func randomBase32(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)[:n]
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
