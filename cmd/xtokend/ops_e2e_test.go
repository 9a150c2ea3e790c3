package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"

	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/sasl"
)

// The "done when" of the operations issue, with the real binary: xtokend
// started with no config in an empty folder serves localhost with RAM keys,
// and "xtokend token alice@localhost" from the same folder prints a token
// (minted by the running server over its admin socket) that logs in over
// STARTTLS. Then SIGHUP reloads without harm, a crash's stale socket is
// replaced at the next start, and SIGTERM exits 0 and removes the socket.

const e2eWait = 30 * time.Second

// e2eBuild builds xtokend into a temporary folder.
func e2eBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "xtokend")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// e2eProcess is a started xtokend process.
type e2eProcess struct {
	cmd  *exec.Cmd
	logs *testkit.LogBuffer
	done chan error
}

func e2eStart(t *testing.T, bin, dir string) *e2eProcess {
	t.Helper()
	r := &e2eProcess{cmd: exec.Command(bin), logs: &testkit.LogBuffer{}, done: make(chan error, 1)}
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("xtokend log:\n%s", r.logs.String())
		}
	})
	return r
}

// waitFor polls cond until it holds, the process exits, or the wait ends.
func (r *e2eProcess) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, e2eWait, "no "+what, func() bool {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("xtokend exited (%v) while waiting for %s", err, what)
		default:
		}
		return cond()
	})
}

// stop sends sig and returns the exit code.
func (r *e2eProcess) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	r.cmd.Process.Signal(sig)
	select {
	case err := <-r.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(e2eWait):
		t.Fatalf("xtokend did not exit on %v", sig)
	}
	return -1
}

// e2eCLI runs the binary with args in dir and returns stdout, stderr and the exit code.
func e2eCLI(t *testing.T, bin, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// e2eLogin logs in as bare with token over STARTTLS and pings the server.
func e2eLogin(t *testing.T, addr, bare, token string) error {
	t.Helper()
	xs, err := e2eSession(t, addr, bare, token)
	if err != nil {
		return err
	}
	defer xs.Close()
	defer xs.Conn().Close()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	// The answer to the ping comes through the session's read loop.
	go xs.Serve(nil)
	if err := ping.Send(ctx, xs, xs.LocalAddr().Domain()); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// e2eSession logs in as bare with token over STARTTLS and binds a resource;
// the caller closes the session and its connection.
func e2eSession(t *testing.T, addr, bare, token string) (*xmpp.Session, error) {
	t.Helper()
	user := jid.MustParse(bare)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(e2eWait))
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	tlsConf := &tls.Config{
		ServerName: user.Domainpart(),
		MinVersion: tls.VersionTLS12,
		// The default configuration's certificate is self-signed (made at the
		// first start): check the name it was made for instead of pinning it.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !slices.Contains(cs.PeerCertificates[0].DNSNames, user.Domainpart()) {
				return fmt.Errorf("the certificate is not for %s", user.Domainpart())
			}
			return nil
		},
	}
	features := []xmpp.StreamFeature{
		xmpp.StartTLS(tlsConf),
		xmpp.SASL("", "", sasl.ClientMechanism("", user.Localpart(), token)),
		xmpp.BindResource(),
	}
	xs, err := xmpp.NewSession(ctx, user.Domain(), user, conn, 0, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: features}
	}))
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	if xs.State()&xmpp.Secure == 0 || xs.LocalAddr().Bare().String() != user.String() {
		xs.Close()
		conn.Close()
		return nil, fmt.Errorf("bound %s (secure: %t), want %s on a secure stream", xs.LocalAddr(), xs.State()&xmpp.Secure != 0, user)
	}
	return xs, nil
}

func TestDoneWhenDefaultServerAndToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := e2eBuild(t)
	work := t.TempDir()

	// The built-in default listens on 127.0.0.1:5222. When that port is
	// taken on this machine, the test writes a config.toml identical to the
	// default except for the port.
	testkit.LockDefaultPorts(t)
	addr := "127.0.0.1:5222"
	if l, err := net.Listen("tcp", addr); err != nil {
		free, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = free.Addr().String()
		free.Close()
		t.Logf("127.0.0.1:5222 is taken: using a config.toml that is the default but for listen = %q", addr)
		cfg := fmt.Sprintf("[general]\nhosts = [\"localhost\"]\nlisten = %q\n\n[modules.mod_auth_token]\nplain = true\n", addr)
		if err := os.WriteFile(filepath.Join(work, "config.toml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		l.Close()
	}
	sock := filepath.Join(work, "xtokend.sock")

	srv := e2eStart(t, bin, work)
	srv.waitFor(t, "admin socket", func() bool { _, err := os.Lstat(sock); return err == nil })
	if fi, _ := os.Lstat(sock); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket mode %v, want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(srv.logs.String(), "stock clients log in with SASL PLAIN") {
		t.Errorf("the built-in default's start-up log does not say that stock clients log in with PLAIN:\n%s", srv.logs.String())
	}

	out, stderr, code := e2eCLI(t, bin, work, "token", "alice@localhost")
	if code != 0 {
		t.Fatalf("xtokend token: exit %d: %s", code, stderr)
	}
	token := strings.TrimSpace(out)
	if err := e2eLogin(t, addr, "alice@localhost", token); err != nil {
		t.Fatalf("login with the printed token: %v", err)
	}
	if err := e2eLogin(t, addr, "alice@localhost", token); err == nil {
		t.Fatal("the same token logged in twice")
	}

	out, stderr, code = e2eCLI(t, bin, work, "token", "-json", "Bob@LocalHost")
	if code != 0 {
		t.Fatalf("xtokend token -json: exit %d: %s", code, stderr)
	}
	var js map[string]string
	if err := json.Unmarshal([]byte(out), &js); err != nil || js["jid"] != "bob@localhost" || js["token"] == "" {
		t.Fatalf("-json printed %q (%v)", out, err)
	}
	if exp, err := time.Parse(time.RFC3339, js["expires_at"]); err != nil || !exp.After(time.Now()) {
		t.Fatalf("expires_at %q: %v", js["expires_at"], err)
	}
	if strings.Contains(srv.logs.String(), js["token"]) || strings.Contains(srv.logs.String(), token) {
		t.Fatal("a token reached the server's log")
	}

	// SIGHUP reloads; RAM keys keep their bytes, so bob's token still works.
	srv.cmd.Process.Signal(syscall.SIGHUP)
	srv.waitFor(t, "reload log line", func() bool { return strings.Contains(srv.logs.String(), "reloaded keys") })
	if err := e2eLogin(t, addr, "bob@localhost", js["token"]); err != nil {
		t.Fatalf("login after SIGHUP with a token from before: %v", err)
	}

	// A crash leaves the socket behind; the next start replaces it.
	if code := srv.stop(t, syscall.SIGKILL); code == 0 {
		t.Fatal("SIGKILL reported exit 0")
	}
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("after a crash the socket should be left over: %v", err)
	}
	_, stderr, code = e2eCLI(t, bin, work, "token", "alice@localhost")
	if code != 1 || !strings.Contains(stderr, "no server answers") {
		t.Fatalf("token with no server: exit %d, %q; want 1 and a clear error", code, stderr)
	}
	srv = e2eStart(t, bin, work)
	srv.waitFor(t, "stale socket replaced", func() bool { return strings.Contains(srv.logs.String(), "stale admin socket") })
	srv.waitFor(t, "admin socket", func() bool { _, err := os.Lstat(sock); return err == nil })
	out, stderr, code = e2eCLI(t, bin, work, "token", "carol@localhost")
	if code != 0 {
		t.Fatalf("token after restart: exit %d: %s", code, stderr)
	}
	srv.waitFor(t, "c2s listener", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err := e2eLogin(t, addr, "carol@localhost", strings.TrimSpace(out)); err != nil {
		t.Fatalf("login after restart: %v", err)
	}

	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after SIGTERM: %v", err)
	}
	_, stderr, code = e2eCLI(t, bin, work, "token", "alice@localhost")
	if code != 1 || !strings.Contains(stderr, "start xtokend") {
		t.Fatalf("token after shutdown: exit %d, %q", code, stderr)
	}
}
