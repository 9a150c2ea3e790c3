package integration

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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

// The browser test drives Converse.js 14, as served by the example web application in
// examples/webapp, in Debian's headless chromium through puppeteer-core (browser/converse.mjs):
// a user signs in to the application, Converse fetches a token from it and logs in to xtokend
// over WebSocket with X-TOKEN, and chats with a slixmpp client on TCP (browser/slixmpp_peer.py).

const (
	chromiumPath = "/usr/bin/chromium"
	// wsPath is the WebSocket path the test configures (RFC 7395 names none; this is Prosody's).
	wsPath = "/xmpp-websocket"
	// browserTimeout is the driver's own overall limit; it guards against hangs and asserts
	// nothing about speed (a run takes a few seconds).
	browserTimeout = 90 * time.Second
)

// converseDist is where examples/webapp's `npm ci` puts Converse.js.
var converseDist = filepath.Join("..", "examples", "webapp", "node_modules", "converse.js", "dist")

var browserCheck = sync.OnceValue(func() error {
	if _, err := os.Stat(chromiumPath); err != nil {
		return fmt.Errorf("no %s: Debian package chromium (apt-get install -y chromium)", chromiumPath)
	}
	probe := exec.Command("node", "--input-type=module", "-e", `await import("puppeteer-core");`)
	probe.Dir = "browser" // resolve puppeteer-core as the driver will
	if out, err := probe.CombinedOutput(); err != nil {
		return fmt.Errorf("puppeteer-core: %v: %s (npm package: cd integration/browser && npm ci)", err, errorLine(string(out)))
	}
	if _, err := os.Stat(filepath.Join(converseDist, "converse.min.js")); err != nil {
		return fmt.Errorf("no Converse.js in %s (npm package converse.js 14: cd examples/webapp && npm ci)", converseDist)
	}
	return nil
})

// requireBrowser skips the test when chromium, puppeteer-core or Converse.js is missing, or
// fails it when CI=true.
func requireBrowser(t *testing.T) {
	t.Helper()
	if err := browserCheck(); err != nil {
		msg := fmt.Sprintf("browser test cannot run: %v; scripts/install-test-deps.sh installs it", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// buildWebapp builds the example web application into a folder of the test's (the Go build
// cache makes the second build of a run cheap); with -race when the tests run with -race.
func buildWebapp(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "webapp")
	args := []string{"build", "-o", path}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/xtokend/xtokend/examples/webapp")...).CombinedOutput()
	if err != nil {
		t.Fatalf("building examples/webapp: %v\n%s", err, out)
	}
	return path
}

func TestBrowserConverse(t *testing.T) {
	t.Parallel()
	skipShort(t)
	requireBrowser(t)
	bin := buildWebapp(t)

	// What holds without a WebSocket server: the application serves the page, Converse loads
	// from it with no request going anywhere else or failing, fetches its credentials and opens
	// the WebSocket it was given, as RFC 7395 says (subprotocol xmpp, the page's Origin).
	t.Run("page", func(t *testing.T) {
		keys := writeBrowserKeys(t, t.TempDir())
		probe := newHandshakeProbe(t)
		wsURL := "ws://" + probe.addr + wsPath
		app := startWebapp(t, bin, keys, wsURL)
		d := startDriver(t, app, nil, wsURL, "alice", "")
		code, events := d.wait()
		if code != 0 {
			t.Fatalf("driver: exit %d; events %v\n%s", code, events, d.stderr)
		}
		if e, ok := findBrowser(events, "credentials"); !ok || e.Status != http.StatusOK || e.JID != "alice@"+fileHost {
			t.Errorf("credentials: %+v; want 200 for alice@%s", e, fileHost)
		}
		if e, _ := findBrowser(events, "websocket"); e.URL != wsURL {
			t.Errorf("WebSocket opened to %q, want %q", e.URL, wsURL)
		}
		if e, ok := findBrowser(events, "screenshot"); ok {
			t.Logf("screenshot: %s", e.Path)
		}
		req, ok := probe.first()
		if !ok {
			t.Fatalf("no WebSocket handshake reached %s", probe.addr)
		}
		if req.URL.Path != wsPath || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") ||
			!strings.Contains(req.Header.Get("Sec-WebSocket-Protocol"), "xmpp") || req.Header.Get("Origin") != app.base {
			t.Errorf("handshake: GET %s Upgrade %q Sec-WebSocket-Protocol %q Origin %q; want %s, websocket, xmpp, %s",
				req.URL.Path, req.Header.Get("Upgrade"), req.Header.Get("Sec-WebSocket-Protocol"), req.Header.Get("Origin"), wsPath, app.base)
		}
		app.stop(t)
	})

	// The whole loop: sign in, online, a message each way with slixmpp on TCP.
	t.Run("chat", func(t *testing.T) {
		slixmpp.require(t)
		s, app := startBrowserServers(t, bin)
		out := "hello from the browser " + randomBase32(t, 8)
		in := "hello back from slixmpp " + randomBase32(t, 8)
		peer := slixmppPeer(in)

		bob := login{host: fileHost, user: "bob", mint: s.cli(t, "bob@"+fileHost), resource: "desk", expectFrom: "alice@" + fileHost}
		recv := peer.start(t, s, bob)
		// No TLS on TCP either: with require_starttls = false the server offers no STARTTLS.
		if b := recv.waitFor("bound"); !strings.HasPrefix(b.JID, "bob@"+fileHost+"/desk") {
			t.Fatalf("slixmpp bound as %q, want bob@%s/desk", b.JID, fileHost)
		}

		d := startDriver(t, app, s, app.wsURL, "alice", "bob@"+fileHost, "--out", out, "--in", in)
		online := d.waitFor("online")
		d.waitFor("sent")

		code, got := recv.wait()
		msg, ok := find(got, "message")
		if code != 0 || !ok {
			d.kill()
			t.Fatalf("slixmpp got no message from the browser: exit %d, events %v; driver events %v", code, got, d.seen)
		}
		if msg.From != online.JID || msg.Body != out {
			t.Errorf("slixmpp got from %q body %q, want from %q body %q", msg.From, msg.Body, online.JID, out)
		}
		if e, ok := find(got, "sent"); !ok || e.To != online.JID {
			t.Errorf("slixmpp's answer went to %q, want %q", e.To, online.JID)
		}

		code, events := d.wait()
		if code != 0 {
			t.Fatalf("driver: exit %d; events %v\n%s", code, events, d.stderr)
		}
		if _, ok := findBrowser(events, "received"); !ok {
			t.Errorf("the page did not show slixmpp's answer; events %v", events)
		}
		if e, _ := findBrowser(events, "auth"); e.Mechanism != "X-TOKEN" {
			t.Errorf("Converse logged in with %q, want X-TOKEN", e.Mechanism)
		}
		if e, ok := findBrowser(events, "screenshot"); ok {
			t.Logf("screenshot: %s", e.Path)
		}
		app.stop(t)
		s.stop(t)
	})
}

// slixmppPeer is slixmpp_client.py's client that stays available and answers with reply. It
// logs in without TLS: the browser test's server, which must offer SASL on ws://, offers no
// STARTTLS on TCP either.
func slixmppPeer(reply string) *client {
	return &client{
		name: "slixmpp-peer",
		pkg:  slixmpp.pkg,
		command: func(args ...string) *exec.Cmd {
			args = append(withCA(args), "--body", reply, "--plaintext")
			return exec.Command(debianPython, append([]string{"browser/slixmpp_peer.py"}, args...)...)
		},
	}
}

// browserKeys are fileHost's key files in Prosody's format, which the server and the web
// application both read.
type browserKeys struct {
	dir, secretFile, seedFile string
	secret, seed              string
}

func writeBrowserKeys(t *testing.T, dir string) browserKeys {
	t.Helper()
	k := browserKeys{dir: filepath.Join(dir, "keys"), secret: randomBase32(t, 32), seed: randomBase32(t, 32)}
	if err := os.MkdirAll(k.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	k.secretFile = filepath.Join(k.dir, "file_access_secret")
	k.seedFile = filepath.Join(k.dir, "file_otp_seed")
	writeFile(t, k.secretFile, k.secret+"\n")
	writeFile(t, k.seedFile, k.seed+"\n")
	return k
}

// startBrowserServers starts xtokend with fileHost's keys in files and a [websocket] listener,
// and the web application minting for fileHost with the same files and pointing Converse at
// that listener. Ports are free when picked but may be taken before they are bound: retry then.
func startBrowserServers(t *testing.T, bin string) (*server, *webapp) {
	t.Helper()
	return startBrowserServersVia(t, bin, nil)
}

// startBrowserServersVia is startBrowserServers with the page's WebSocket going to front(the
// listener's address) instead, a proxy's address (nil: straight to the listener).
func startBrowserServersVia(t *testing.T, bin string, front func(wsAddr string) string) (*server, *webapp) {
	t.Helper()
	dir := t.TempDir()
	keys := writeBrowserKeys(t, dir)
	s := &server{
		socketPath: filepath.Join(dir, "admin.sock"),
		configPath: filepath.Join(dir, "xtokend.toml"),
		file:       prosodyMinter{secret: []byte(keys.secret), seed: keys.seed, digits: 8, period: 30},
	}
	s.addSecret(keys.secret, keys.seed)
	var lastErr error
	for range 5 {
		s.addr = net.JoinHostPort("127.0.0.1", freePort(t))
		wsAddr := net.JoinHostPort("127.0.0.1", freePort(t))
		pageAddr := wsAddr
		if front != nil {
			pageAddr = front(wsAddr)
		}
		app := startWebapp(t, bin, keys, "ws://"+pageAddr+wsPath)
		writeFile(t, s.configPath, browserConfig(s, wsAddr, app.base))
		if lastErr = s.start(t); lastErr == nil {
			t.Cleanup(func() { s.stop(t) })
			waitAccepting(t, s, wsAddr)
			return s, app
		}
		app.stop(t)
		if !strings.Contains(s.log.String(), "address already in use") {
			break
		}
	}
	t.Fatalf("xtokend serve did not start: %v\nserver log:\n%s", lastErr, s.log)
	return nil, nil
}

// browserConfig is the tests' usual configuration with two changes: SASL on plaintext streams
// (a ws:// WebSocket has no STARTTLS; RFC 7395 leaves TLS to wss://), and the WebSocket listener,
// open to the web application's Origin only.
func browserConfig(s *server, wsAddr, origin string) string {
	const tlsLine = "require_starttls = true\n"
	cfg := s.config()
	if strings.Count(cfg, tlsLine) != 1 {
		panic("integration: the server configuration no longer has one " + tlsLine)
	}
	cfg = strings.Replace(cfg, tlsLine, "require_starttls = false\n", 1)
	return cfg + fmt.Sprintf(`
[websocket]
listen = %q
path = %q
origins = [%q]
tls = false
`, wsAddr, wsPath, origin)
}

// waitAccepting waits until addr accepts connections, or the server exits.
func waitAccepting(t *testing.T, s *server, addr string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			t.Fatalf("xtokend exited: %v\n%s", s.cmd.ProcessState, s.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("WebSocket listener %s not accepting after %v\n%s", addr, startTimeout, s.log)
		}
		time.Sleep(20 * time.Millisecond) // polling a port: there is nothing to wait on
	}
}

// webapp is one running example web application.
type webapp struct {
	base, wsURL string
	cmd         *exec.Cmd
	done        chan struct{}
	log         *testkit.LogBuffer
	stopOnce    sync.Once

	mu      sync.Mutex
	secrets []string // none may appear in its log
}

func (a *webapp) addSecret(secrets ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.secrets = append(a.secrets, secrets...)
}

// startWebapp runs the example application on a free port, minting for fileHost with keys and
// pointing Converse at wsURL, and waits for the line saying where it listens.
func startWebapp(t *testing.T, bin string, keys browserKeys, wsURL string) *webapp {
	t.Helper()
	a := &webapp{wsURL: wsURL, log: &testkit.LogBuffer{}, done: make(chan struct{}), secrets: []string{keys.secret, keys.seed}}
	a.cmd = exec.Command(bin, "-listen", "127.0.0.1:0", "-host", fileHost, "-log-level", "debug",
		"-secret-file", keys.secretFile, "-secret-encoding", "raw",
		"-seed-file", keys.seedFile, "-seed-encoding", "base32",
		"-websocket-url", wsURL, "-dist", converseDist)
	a.cmd.Stderr = a.log
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		a.cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() { a.stop(t) })
	select {
	case line := <-lines:
		base, ok := strings.CutPrefix(line, "webapp: listening on ")
		if !ok {
			t.Fatalf("webapp: first line %q\n%s", line, a.log)
		}
		a.base = base
	case <-a.done:
		t.Fatalf("webapp exited during start-up: %v\n%s", a.cmd.ProcessState, a.log)
	case <-time.After(startTimeout):
		t.Fatalf("webapp did not start within %v\n%s", startTimeout, a.log)
	}
	return a
}

// stop ends the application with SIGTERM and expects exit 0 and no key or token in its log.
func (a *webapp) stop(t *testing.T) {
	t.Helper()
	a.stopOnce.Do(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(startTimeout):
			a.cmd.Process.Kill()
			<-a.done
			t.Errorf("webapp did not exit within %v of SIGTERM", startTimeout)
		}
		if code := a.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("webapp exited %d after SIGTERM, want 0\n%s", code, a.log)
		}
		log := a.log.String()
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, s := range a.secrets {
			if strings.Contains(log, s) {
				t.Errorf("the webapp's log holds a secret")
				break
			}
		}
		if strings.Contains(log, "WARNING: DATA RACE") {
			t.Errorf("the race detector fired in the webapp\n%s", log)
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("webapp log:\n%s", log)
		}
	})
}

// handshakeProbe stands where xtokend's WebSocket listener will be: it reads the first HTTP
// request of each connection, keeps it, and refuses the upgrade.
type handshakeProbe struct {
	addr string
	mu   sync.Mutex
	reqs []*http.Request
}

func newHandshakeProbe(t *testing.T) *handshakeProbe {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &handshakeProbe{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(startTimeout))
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				p.mu.Lock()
				p.reqs = append(p.reqs, req)
				p.mu.Unlock()
				c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			})
		}
	})
	return p
}

func (p *handshakeProbe) first() (*http.Request, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reqs) == 0 {
		return nil, false
	}
	return p.reqs[0], true
}

// browserEvent is one JSON line of the driver.
type browserEvent struct {
	Event      string `json:"event"`
	URL        string `json:"url,omitempty"`
	Status     int    `json:"status,omitempty"`
	JID        string `json:"jid,omitempty"`
	Body       string `json:"body,omitempty"`
	Mechanism  string `json:"mechanism,omitempty"`
	Path       string `json:"path,omitempty"`
	Error      string `json:"error,omitempty"`
	Screenshot string `json:"screenshot,omitempty"`
	Console    string `json:"console,omitempty"`
	// Reconnection (--reconnect): whether the stream resumed, and how often the message sent
	// during the cut was shown and was carried by a WebSocket frame.
	Resumed *bool `json:"resumed,omitempty"`
	Shown   int   `json:"shown,omitempty"`
	Frames  int   `json:"frames,omitempty"`
	// Response is X-TOKEN's initial response, base64: only to check the logs for it.
	Response string `json:"initial_response,omitempty"`
}

func (e browserEvent) String() string {
	e.Response = ""
	b, _ := json.Marshal(e)
	return string(b)
}

func findBrowser(events []browserEvent, name string) (browserEvent, bool) {
	for _, e := range events {
		if e.Event == name {
			return e, true
		}
	}
	return browserEvent{}, false
}

// driver is a running browser/converse.mjs.
type driver struct {
	t      *testing.T
	cmd    *exec.Cmd
	cancel context.CancelFunc
	events chan browserEvent
	seen   []browserEvent
	stderr *testkit.LogBuffer
	waited chan struct{}
	app    *webapp
	srv    *server // nil without an XMPP server
}

// startDriver runs the driver against app as user; with peer, it chats with peer too. Its
// screenshots and console logs go to a folder that is kept when the test fails, or always when
// XTOKEND_BROWSER_ARTIFACTS names one.
func startDriver(t *testing.T, app *webapp, srv *server, wsURL, user, peer string, extra ...string) *driver {
	t.Helper()
	artifacts := os.Getenv("XTOKEND_BROWSER_ARTIFACTS")
	if artifacts == "" {
		dir, err := os.MkdirTemp("", "xtokend-browser-")
		if err != nil {
			t.Fatal(err)
		}
		artifacts = dir
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("browser screenshots and console logs kept in %s", dir)
				return
			}
			os.RemoveAll(dir)
		})
	}
	artifacts = filepath.Join(artifacts, strings.ReplaceAll(t.Name(), "/", "-"))
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout+30*time.Second)
	args := []string{"converse.mjs", "--base", app.base, "--ws", wsURL, "--user", user, "--jid", user + "@" + fileHost,
		"--artifacts", artifacts, "--chromium", chromiumPath, "--timeout", fmt.Sprint(browserTimeout.Seconds())}
	if peer != "" {
		args = append(args, "--peer", peer)
	}
	d := &driver{t: t, app: app, srv: srv, cancel: cancel, events: make(chan browserEvent, 64), stderr: &testkit.LogBuffer{}, waited: make(chan struct{})}
	d.cmd = exec.CommandContext(ctx, "node", append(args, extra...)...)
	d.cmd.Dir = "browser"
	d.cmd.Stderr = d.stderr
	// The driver's own process group: killing it takes chromium along.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	d.cmd.Cancel = func() error { return syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL) }
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("node: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e browserEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = browserEvent{Event: "unparsed", Error: sc.Text()}
			}
			d.record(e)
			d.events <- e
		}
		close(d.events)
		d.cmd.Wait()
		close(d.waited)
	}()
	t.Cleanup(func() {
		d.kill()
		<-d.waited
	})
	return d
}

// record keeps what the logs must not hold: the token Converse sent.
func (d *driver) record(e browserEvent) {
	if e.Response == "" {
		return
	}
	resp, err := base64.StdEncoding.DecodeString(e.Response)
	if err != nil {
		return
	}
	parts := strings.SplitN(string(resp), "\x00", 3)
	if len(parts) == 3 {
		tok := parts[2]
		digits, sig, _ := strings.Cut(tok, " ")
		d.app.addSecret(tok, digits, sig)
		if d.srv != nil {
			d.srv.addToken(tok)
		}
	}
}

func (d *driver) kill() { d.cancel() }

func (d *driver) waitFor(name string) browserEvent {
	d.t.Helper()
	for e := range d.events {
		d.seen = append(d.seen, e)
		if e.Event == name {
			return e
		}
		if e.Event == "error" {
			break
		}
	}
	for e := range d.events {
		d.seen = append(d.seen, e)
	}
	<-d.waited
	d.t.Fatalf("browser driver ended (%v) before %q; events %v\nstderr:\n%s", d.cmd.ProcessState, name, d.seen, d.stderr)
	return browserEvent{}
}

func (d *driver) wait() (int, []browserEvent) {
	for e := range d.events {
		d.seen = append(d.seen, e)
	}
	<-d.waited
	return d.cmd.ProcessState.ExitCode(), d.seen
}
