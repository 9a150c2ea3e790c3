package server_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/sasl"
	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/server/adminclient"
)

// These tests run a whole server with its operations side: the admin socket,
// the metrics listener, file keys that a reload swaps and a certificate file.
// "localhost" has RAM keys; "first.com" has file keys.

// opsWait bounds every wait so a bug fails instead of hanging; nothing
// asserts on how long anything takes.
const opsWait = 20 * time.Second

type opsServer struct {
	*server.Server
	Addr    string
	Dir     string
	Socket  string
	Config  *config.Config
	roots   *x509.CertPool
	logs    *testkit.LogBuffer
	served  chan error
	stopped bool
}

type opsOptions struct {
	configure func(*config.Config) // last changes to the config
}

// opsKeys are the bytes of first.com's file keys.
type opsKeys struct{ secret, seed []byte }

func (k opsKeys) write(t testing.TB, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "first_access_secret"), k.secret, 0o600); err != nil {
		t.Fatal(err)
	}
	seed := base32.StdEncoding.EncodeToString(k.seed)
	if err := os.WriteFile(filepath.Join(dir, "first_otp_seed"), []byte(seed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newOpsKeys(t testing.TB) opsKeys {
	// The secret is written raw, and key files are trimmed of surrounding
	// whitespace: draw again until neither end is whitespace (1 run in 20
	// otherwise loses a byte).
	secret := opsRandom(t, 32)
	for len(strings.Trim(string(secret), " \t\n\v\f\r")) != len(secret) {
		secret = opsRandom(t, 32)
	}
	return opsKeys{secret: secret, seed: opsRandom(t, 20)}
}

func opsRandom(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// startOpsServer starts a server on 127.0.0.1:0 with STARTTLS required, a
// certificate file, an admin socket and metrics on 127.0.0.1:0.
func startOpsServer(t *testing.T, keys opsKeys, o opsOptions) *opsServer {
	t.Helper()
	dir := t.TempDir()
	keys.write(t, dir)
	roots := x509.NewCertPool()
	writeOpsCert(t, dir, roots, "cert.pem", "key.pem", 1)

	cfg := config.Default()
	cfg.Dir = dir
	cfg.Path = filepath.Join(dir, "config.toml")
	cfg.General.Hosts = []string{"localhost", "first.com"}
	cfg.General.Listen = "127.0.0.1:0"
	cfg.General.AdminSocket = "xtokend.sock"
	cfg.WebSocket.Listen = "127.0.0.1:0"
	cfg.General.MetricsListen = "127.0.0.1:0"
	cfg.TLS = config.TLSOptions{Cert: "cert.pem", Key: "key.pem", RequireStartTLS: true}
	cfg.HostConfig = []config.HostConfig{{Host: "first.com", Modules: config.Modules{Keystore: &keystore.Options{Keys: []keystore.KeySpec{
		{Name: "access_secret", Type: "file", Path: "first_access_secret"},
		{Name: "otp_seed", Type: "file", Path: "first_otp_seed", Encoding: "base32"},
	}}}}}
	if o.configure != nil {
		o.configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}

	logs := &testkit.LogBuffer{}
	srv, err := server.New(context.Background(), server.Config{File: cfg, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &opsServer{Server: srv, Addr: l.Addr().String(), Dir: dir, Socket: cfg.AdminSocketPath(),
		Config: cfg, roots: roots, logs: logs, served: make(chan error, 1)}
	go func() { ts.served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ts.stop(t)
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	// Serve starts the admin socket and the metrics listener before it
	// accepts: wait for them.
	testkit.Eventually(t, opsWait, "the metrics listener did not start", func() bool {
		select {
		case err := <-ts.served:
			t.Fatalf("Serve: %v", err)
		default:
		}
		return srv.MetricsAddr() != nil
	})
	return ts
}

func (ts *opsServer) stop(t *testing.T) {
	if ts.stopped {
		return
	}
	ts.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), opsWait)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := <-ts.served; !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
}

// writeOpsCert writes a self-signed certificate for the test hosts with the
// given serial, and adds it to roots.
func writeOpsCert(t testing.TB, dir string, roots *x509.CertPool, certFile, keyFile string, serial int64) {
	t.Helper()
	c, err := testkit.SelfSigned(serial, "localhost", "first.com")
	if err != nil {
		t.Fatal(err)
	}
	roots.AddCert(c.TLS.Leaf)
	if err := c.WriteFiles(filepath.Join(dir, certFile), filepath.Join(dir, keyFile)); err != nil {
		t.Fatal(err)
	}
}

// opsClient is a client session logged in over STARTTLS with X-TOKEN.
type opsClient struct {
	t      *testing.T
	jid    jid.JID
	xs     *xmpp.Session
	serial int64 // of the server certificate it was shown
	in     chan opsStanza
}

type opsStanza struct {
	XMLName xml.Name
	From    string `xml:"from,attr"`
	Type    string `xml:"type,attr"`
	ID      string `xml:"id,attr"`
	Body    string `xml:"body"`
}

// opsLogin logs in as bare with token; the error holds the SASL condition
// when SASL fails.
func (ts *opsServer) opsLogin(t *testing.T, bare, token string) (*opsClient, error) {
	t.Helper()
	user := jid.MustParse(bare)
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opsWait)
	defer cancel()
	conn.SetDeadline(time.Now().Add(opsWait))
	features := []xmpp.StreamFeature{
		xmpp.StartTLS(&tls.Config{ServerName: user.Domainpart(), RootCAs: ts.roots, MinVersion: tls.VersionTLS12}),
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
	c := &opsClient{t: t, jid: xs.LocalAddr(), xs: xs, in: make(chan opsStanza, 64)}
	if certs := xs.ConnectionState().PeerCertificates; len(certs) > 0 {
		c.serial = certs[0].SerialNumber.Int64()
	}
	go c.read()
	t.Cleanup(func() { xs.Conn().Close() })
	return c, nil
}

func (c *opsClient) read() {
	defer close(c.in)
	r := c.xs.TokenReader()
	defer r.Close()
	d := xml.NewTokenDecoder(r)
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var st opsStanza
		if d.DecodeElement(&st, &start) != nil {
			return
		}
		c.in <- st
	}
}

func (c *opsClient) send(format string, args ...any) {
	c.t.Helper()
	c.xs.Conn().SetWriteDeadline(time.Now().Add(opsWait))
	if _, err := fmt.Fprintf(c.xs.Conn(), format, args...); err != nil {
		c.t.Fatalf("%s: send: %v", c.jid, err)
	}
}

// expect waits for a stanza matching want, skipping others (presence).
func (c *opsClient) expect(what string, want func(opsStanza) bool) opsStanza {
	c.t.Helper()
	timeout := time.After(opsWait)
	for {
		select {
		case st, ok := <-c.in:
			if !ok {
				c.t.Fatalf("%s: the stream ended waiting for %s", c.jid, what)
			}
			if want(st) {
				return st
			}
		case <-timeout:
			c.t.Fatalf("%s: no %s", c.jid, what)
		}
	}
}

// ping proves the session is up and served.
func (c *opsClient) ping(id string) {
	c.t.Helper()
	c.send(`<iq type='get' id='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>`, id, c.jid.Domainpart())
	st := c.expect("ping answer "+id, func(st opsStanza) bool { return st.XMLName.Local == "iq" && st.ID == id })
	if st.Type != "result" {
		c.t.Fatalf("%s: ping answered with type %q", c.jid, st.Type)
	}
}

// message sends a chat message to "to" and waits until "to" gets it.
func (c *opsClient) message(to *opsClient, body string) {
	c.t.Helper()
	c.send(`<message type='chat' to='%s'><body>%s</body></message>`, to.jid, body)
	st := to.expect("message "+body, func(st opsStanza) bool { return st.XMLName.Local == "message" && st.Body == body })
	if st.From != c.jid.String() {
		c.t.Fatalf("message from %q, want %q", st.From, c.jid)
	}
}

func (ts *opsServer) mustLogin(t *testing.T, bare, token string) *opsClient {
	t.Helper()
	c, err := ts.opsLogin(t, bare, token)
	if err != nil {
		t.Fatalf("login %s: %v", bare, err)
	}
	return c
}

func (ts *opsServer) mint(t *testing.T, bare string) string {
	t.Helper()
	tok, _, err := ts.Mint(bare)
	if err != nil {
		t.Fatalf("mint %s: %v", bare, err)
	}
	return tok
}

// scrapeOps fetches /metrics.
func (ts *opsServer) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + ts.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

func opsMetric(t *testing.T, body, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("series %s not in the scrape", series)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestOpsAdminAPI(t *testing.T) {
	keys := newOpsKeys(t)
	ts := startOpsServer(t, keys, opsOptions{})
	fi, err := os.Lstat(ts.Socket)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("admin socket: %v %v, want a socket with mode 0600", fi.Mode(), err)
	}
	ac := adminclient.New(ts.Socket)
	defer ac.Close()
	ctx := context.Background()

	// A token for a host with RAM keys, minted by the server, logs in.
	tok, err := ac.Mint(ctx, "Alice@localhost")
	if err != nil {
		t.Fatalf("mint over the admin socket: %v", err)
	}
	if tok.JID != "alice@localhost" || !tok.ExpiresAt.After(time.Now()) {
		t.Fatalf("minted %+v", tok)
	}
	alice := ts.mustLogin(t, "alice@localhost", tok.Token)
	alice.ping("p1")

	// 400 and 404 from the real server.
	var apiErr *adminclient.APIError
	if _, err := ac.Mint(ctx, "alice@localhost/phone"); !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Errorf("full JID: %v, want 400", err)
	}
	if _, err := ac.Mint(ctx, "alice@second.com"); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("unknown host: %v, want 404", err)
	}

	hosts, err := ac.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(hosts)
	want := "[{first.com [{access_secret file 32} {otp_seed file 20}]} {localhost [{access_secret ram 2048} {otp_seed ram 2048}]}]"
	if got != want {
		t.Errorf("hosts = %s, want %s", got, want)
	}
	sessions, err := ac.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := sessions["localhost"]; len(s) != 1 || s[0] != alice.jid.String() {
		t.Errorf("sessions = %v, want alice's", sessions)
	}
	if s, ok := sessions["first.com"]; !ok || len(s) != 0 {
		t.Errorf("sessions[first.com] = %v, want an empty list", s)
	}

	// No key in any answer: fetch everything raw and look for the bytes.
	raw := opsRawAdmin(t, ts.Socket, "GET", "/v1/hosts", "") + opsRawAdmin(t, ts.Socket, "GET", "/v1/sessions", "") +
		opsRawAdmin(t, ts.Socket, "POST", "/v1/tokens", `{"jid":"bob@first.com"}`)
	for _, secret := range [][]byte{keys.secret, keys.seed} {
		for _, enc := range []string{string(secret), base64.StdEncoding.EncodeToString(secret), base32.StdEncoding.EncodeToString(secret), fmt.Sprintf("%x", secret)} {
			if strings.Contains(raw, enc) {
				t.Fatal("an admin answer holds a key")
			}
		}
	}
	if strings.Contains(ts.logs.String(), tok.Token) || strings.Contains(ts.logs.String(), tok.Token[:20]) {
		t.Fatal("a token reached the log")
	}

	// Shutdown removes the socket; the client then says the server is not running.
	ts.stop(t)
	if _, err := os.Lstat(ts.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after shutdown: %v", err)
	}
	if _, err := ac.Hosts(ctx); !errors.Is(err, adminclient.ErrNotRunning) {
		t.Fatalf("client after shutdown: %v, want ErrNotRunning", err)
	}
}

func opsRawAdmin(t *testing.T, sock, method, path, body string) string {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequest(method, "http://x"+path, strings.NewReader(body))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestOpsLiveSocketRefused(t *testing.T) {
	ts := startOpsServer(t, newOpsKeys(t), opsOptions{})
	// A second server with the same admin socket must not start.
	cfg := *ts.Config
	cfg.General.MetricsListen = ""
	second, err := server.New(context.Background(), server.Config{File: &cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = second.Serve(l)
	if err == nil || !strings.Contains(err.Error(), "another server is listening") {
		t.Fatalf("second Serve: %v, want a refusal", err)
	}
	second.Shutdown(context.Background())
	if _, err := adminclient.New(ts.Socket).Hosts(context.Background()); err != nil {
		t.Fatalf("the first server's socket was disturbed: %v", err)
	}
}

func TestOpsMetricsAfterLogin(t *testing.T) {
	ts := startOpsServer(t, newOpsKeys(t), opsOptions{})
	a := ts.mustLogin(t, "alice@first.com", ts.mint(t, "alice@first.com"))
	b := ts.mustLogin(t, "bob@first.com", ts.mint(t, "bob@first.com"))
	a.message(b, "hello")
	a.ping("m1")
	if _, err := ts.opsLogin(t, "mallory@first.com", ts.mint(t, "eve@first.com")); err == nil || !strings.Contains(err.Error(), "not-authorized") {
		t.Fatalf("a token for another user: %v, want not-authorized", err)
	}

	body := ts.scrape(t)
	for series, want := range map[string]float64{
		`xtokend_logins_total{host="first.com",result="success"}`:                  2,
		`xtokend_logins_total{host="first.com",result="failure"}`:                  1,
		`xtokend_sasl_failures_total{condition="not-authorized",host="first.com"}`: 1,
		`xtokend_sessions{host="first.com",transport="tcp"}`:                       2,
		`xtokend_sessions{host="first.com",transport="websocket"}`:                 0,
		`xtokend_sessions{host="localhost",transport="tcp"}`:                       0,
		`xtokend_stanzas_routed_total{kind="message"}`:                             1,
		`xtokend_replay_cache_tokens`:                                              2,
	} {
		if got := opsMetric(t, body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if opsMetric(t, body, `xtokend_stanzas_routed_total{kind="iq"}`) < 1 {
		t.Error("the ping was not counted")
	}
	if strings.Contains(body, "alice") || strings.Contains(body, "mallory") {
		t.Error("a JID became a label")
	}
	resp, err := http.Get("http://" + ts.MetricsAddr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}
