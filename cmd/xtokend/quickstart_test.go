package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/server/adminclient"
)

// The quick-start server is the built-in default: stock clients log in to it
// with a token as their PLAIN password, it listens on loopback only, and
// "xtokend cert" prints the certificate it shows so that clients can trust it.

const streamHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='%s'>"

// readUntil reads from c until what has arrived contains want.
func readUntil(t *testing.T, c net.Conn, want string) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(e2eWait))
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), want) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read: %v; want %q, got %q", err, want, got.String())
		}
		got.Write(buf[:n])
	}
	return got.String()
}

// startTLS opens a stream to host on addr, checks the features offered
// before TLS, upgrades with STARTTLS (trusting any certificate: callers check
// the one shown) and returns the TLS connection and the features offered on it.
func startTLS(t *testing.T, addr, host string) (*tls.Conn, string) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.Write([]byte(strings.Replace(streamHeader, "%s", host, 1)))
	before := readUntil(t, raw, "</stream:features>")
	if !strings.Contains(before, "urn:ietf:params:xml:ns:xmpp-tls") || strings.Contains(before, "<mechanism>") {
		t.Fatalf("features before TLS: want STARTTLS and no SASL mechanism, got %s", before)
	}
	raw.Write([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
	readUntil(t, raw, "<proceed")
	tc := tls.Client(raw, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	tc.SetDeadline(time.Now().Add(e2eWait))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	tc.Write([]byte(strings.Replace(streamHeader, "%s", host, 1)))
	return tc, readUntil(t, tc, "</stream:features>")
}

func TestDefaultConfigIsLoopbackWithPlain(t *testing.T) {
	cfg := config.Default()
	for name, addr := range map[string]string{"general.listen": cfg.General.Listen, "websocket.listen": cfg.WebSocket.Listen} {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("built-in default %s = %q: not a loopback address", name, addr)
		}
	}
	for _, h := range cfg.General.Hosts {
		if hs, _ := cfg.Host(h); !hs.AuthToken.Plain {
			t.Errorf("built-in default: host %q does not offer PLAIN", h)
		}
	}
	if !cfg.TLS.RequireStartTLS {
		t.Error("built-in default offers SASL on plaintext")
	}
}

// TestDefaultConfigPlainLogin serves the built-in default (on ports chosen
// now, its admin socket in a folder of the test's) and logs in with SASL
// PLAIN after STARTTLS, with a token the server minted as the password.
func TestDefaultConfigPlainLogin(t *testing.T) {
	cfg := config.Default()
	cfg.Dir = t.TempDir()
	cfg.General.Listen = "127.0.0.1:0"
	cfg.WebSocket.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testkit.LogBuffer
	srv, err := server.New(ctx, server.Config{File: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := server.Listen(ctx, cfg.General.Listen)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		<-served
	}()

	admin := adminclient.New(cfg.AdminSocketPath())
	defer admin.Close()
	var tok adminclient.Token
	deadline := time.Now().Add(e2eWait)
	for {
		tok, err = admin.Mint(ctx, "alice@localhost")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the admin socket opens as Serve starts
	}
	if err != nil {
		t.Fatalf("mint over the admin socket: %v", err)
	}

	tc, features := startTLS(t, l.Addr().String(), "localhost")
	xtoken := strings.Index(features, "<mechanism>X-TOKEN</mechanism>")
	plain := strings.Index(features, "<mechanism>PLAIN</mechanism>")
	if xtoken < 0 || plain < xtoken {
		t.Fatalf("features after STARTTLS: want X-TOKEN then PLAIN, got %s", features)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + tok.Token))
	tc.Write([]byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + auth + "</auth>"))
	if got := readUntil(t, tc, ">"); !strings.Contains(got, "<success") {
		t.Fatalf("PLAIN with a fresh token: %s", got)
	}
}

// certLine returns the value of the line of "xtokend cert" output that starts with key.
func certLine(t *testing.T, out, key string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("xtokend cert printed no %q line:\n%s", key, out)
	return ""
}

// presentedFingerprints are the SHA-256 and SHA-1 fingerprints of the
// certificate the server at addr shows on STARTTLS for host.
func presentedFingerprints(t *testing.T, addr, host string) (sha256, sha1 string) {
	t.Helper()
	tc, _ := startTLS(t, addr, host)
	defer tc.Close()
	leaf := tc.ConnectionState().PeerCertificates[0]
	return server.Fingerprint(leaf), server.FingerprintSHA1(leaf)
}

// TestCertCommandMatchesServer: "xtokend cert" prints the file and the
// SHA-256 fingerprint of the self-signed certificate the server then shows on
// STARTTLS and names in its start-up log; the certificate is kept, so a
// restart shows the same one.
func TestCertCommandMatchesServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := e2eBuild(t)
	work := t.TempDir()
	addr := testkit.FreeAddr(t)
	cfg := "[general]\nhosts = [\"localhost\", \"example.test\"]\nlisten = \"" + addr + "\"\n"
	if err := os.WriteFile(filepath.Join(work, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := e2eCLI(t, bin, work, "cert")
	if code != 0 {
		t.Fatalf("xtokend cert: exit %d: %s", code, stderr)
	}
	fp := certLine(t, out, "sha256")
	fp1 := certLine(t, out, "sha1")
	if file := certLine(t, out, "file"); file != filepath.Join(work, keptCertFile) {
		t.Errorf("file %q, want %q", file, filepath.Join(work, keptCertFile))
	}
	if kind := certLine(t, out, "kind"); !strings.Contains(kind, "self-signed") || !strings.Contains(kind, "made now") {
		t.Errorf("kind %q: want a self-signed certificate made now", kind)
	}
	if hosts := certLine(t, out, "hosts"); hosts != "localhost example.test" {
		t.Errorf("hosts %q", hosts)
	}
	if fi, err := os.Stat(filepath.Join(work, keptKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept key: %v, %v; want mode 0600", fi, err)
	}

	for run := 1; run <= 2; run++ {
		srv := e2eStart(t, bin, work)
		srv.waitFor(t, "c2s listener", func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		for _, host := range []string{"localhost", "example.test"} {
			if got, got1 := presentedFingerprints(t, addr, host); got != fp || got1 != fp1 {
				t.Errorf("run %d: %s shows %s (SHA-1 %s), xtokend cert printed %s (%s)", run, host, got, got1, fp, fp1)
			}
		}
		if strings.Contains(srv.logs.String(), "SASL PLAIN") {
			t.Errorf("run %d: the log says PLAIN is offered by a config without plain:\n%s", run, srv.logs.String())
		}
		if !strings.Contains(srv.logs.String(), "sha256="+fp) {
			t.Errorf("run %d: the start-up log does not name the fingerprint %s:\n%s", run, fp, srv.logs.String())
		}
		if code := srv.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("SIGTERM: exit %d", code)
		}
	}

	out, _, code = e2eCLI(t, bin, work, "cert")
	if code != 0 || certLine(t, out, "sha256") != fp || strings.Contains(out, "made now") {
		t.Errorf("xtokend cert after two runs: exit %d\n%s\nwant the same certificate, not a new one", code, out)
	}
}

// TestCertCommandConfiguredFiles: with [tls] and a host's own certificate,
// "xtokend cert" prints each file with its fingerprint and makes nothing.
func TestCertCommandConfiguredFiles(t *testing.T) {
	dir := t.TempDir()
	global := writeCertPair(t, dir, "global", "first.test", "second.test")
	own := writeCertPair(t, dir, "own", "second.test")
	path := filepath.Join(dir, "config.toml")
	cfg := `[general]
hosts = ["first.test", "second.test"]
listen = "127.0.0.1:0"

[tls]
cert = "global_cert.pem"
key = "global_key.pem"

[[host_config]]
host = "second.test"
  [host_config.tls]
  cert = "own_cert.pem"
  key = "own_key.pem"
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runXtokendCmd(t, "cert", "-config", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	blocks := strings.Split(strings.TrimSpace(out), "\n\n")
	if len(blocks) != 2 {
		t.Fatalf("want two certificates, got:\n%s", out)
	}
	for i, want := range []struct{ file, hosts, fp string }{
		{filepath.Join(dir, "global_cert.pem"), "first.test", global},
		{filepath.Join(dir, "own_cert.pem"), "second.test", own},
	} {
		if f, h, fp := certLine(t, blocks[i], "file"), certLine(t, blocks[i], "hosts"), certLine(t, blocks[i], "sha256"); f != want.file || h != want.hosts || fp != want.fp {
			t.Errorf("certificate %d: file %q hosts %q sha256 %s; want %q %q %s", i, f, h, fp, want.file, want.hosts, want.fp)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, keptCertFile)); err == nil {
		t.Errorf("xtokend cert made a self-signed certificate where none is shown")
	}
}

// writeCertPair writes NAME_cert.pem and NAME_key.pem for names in dir and
// returns the certificate's fingerprint.
func writeCertPair(t *testing.T, dir, name string, names ...string) string {
	t.Helper()
	c, err := testkit.SelfSigned(0, names...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFiles(filepath.Join(dir, name+"_cert.pem"), filepath.Join(dir, name+"_key.pem")); err != nil {
		t.Fatal(err)
	}
	return server.Fingerprint(c.TLS.Leaf)
}

// TestServeSelfSignedNotKept: where the certificate cannot be kept (here a
// folder stands where the key file would go), serve says so and serves with
// a certificate made in memory, and xtokend cert fails with the reason.
func TestServeSelfSignedNotKept(t *testing.T) {
	path := writeConfig(t, "[general]\nhosts = [\"localhost\"]\nlisten = \"127.0.0.1:0\"\nadmin_socket = \"\"\n")
	if err := os.Mkdir(filepath.Join(filepath.Dir(path), keptKeyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	var stderr testkit.LogBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() { done <- serve(ctx, []string{"-config", path}, &stderr, ready) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("exit %d before serving:\n%s", code, stderr.String())
	}
	tc, features := startTLS(t, addr.String(), "localhost")
	tc.Close()
	if !strings.Contains(features, "X-TOKEN") {
		t.Errorf("features after STARTTLS: %s", features)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "cannot keep the self-signed certificate") {
		t.Errorf("no warning that the certificate is not kept:\n%s", stderr.String())
	}
	code, _, errOut := runXtokendCmd(t, "cert", "-config", path)
	if code != exitFailed || !strings.Contains(errOut, keptKeyFile) {
		t.Errorf("xtokend cert: exit %d, %q; want 1 naming %s", code, errOut, keptKeyFile)
	}
}
