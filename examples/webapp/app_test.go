package main

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/sasl"
)

const testHost = "example.test"

var testKeys = sasl.KeyMap{
	"access_secret": []byte("the application's and the server's shared secret"),
	"otp_seed":      []byte("twenty bytes of seed"),
}

// newTestApp serves an App for testHost with a fake Converse dist folder.
func newTestApp(t *testing.T, keys sasl.Keys) *httptest.Server {
	t.Helper()
	dist := t.TempDir()
	if err := os.WriteFile(filepath.Join(dist, "converse.min.js"), []byte("// converse"), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := New(Config{
		Host: testHost, Keys: keys, Options: sasl.DefaultOptions(),
		WebSocketURL: "ws://127.0.0.1:5280/xmpp-websocket", DistDir: dist,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func signIn(t *testing.T, c *http.Client, srv *httptest.Server, name string) *http.Response {
	t.Helper()
	resp, err := c.PostForm(srv.URL+"/signin", url.Values{"username": {name}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

type creds struct {
	JID      string `json:"jid"`
	Password string `json:"password"`
	Error    string `json:"error"`
}

func getCredentials(t *testing.T, c *http.Client, srv *httptest.Server) (int, creds) {
	t.Helper()
	resp, body := get(t, c, srv.URL+"/credentials")
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("/credentials: Cache-Control %q, want no-store", cc)
	}
	var v creds
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("/credentials: %d, body is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, v
}

// The token /credentials returns logs the signed-in user in: xtokend's own verifier, with a
// replay cache as the server keeps one, accepts it once, for that user only.
func TestCredentialsTokenVerifies(t *testing.T) {
	srv := newTestApp(t, testKeys)
	c := browser(t)
	if resp := signIn(t, c, srv, "Alice"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %s, want 303", resp.Status)
	}
	code, first := getCredentials(t, c, srv)
	if code != http.StatusOK || first.JID != "alice@"+testHost || first.Password == "" {
		t.Fatalf("/credentials: %d %+v, want 200, jid alice@%s and a token", code, first, testHost)
	}
	_, second := getCredentials(t, c, srv)
	if second.Password == first.Password {
		t.Errorf("two calls returned the same token: every connect needs a fresh one")
	}

	v, err := sasl.NewVerifier(testHost, testKeys, sasl.DefaultOptions(), sasl.NewReplayCache(16))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := v.Verify(context.Background(), []byte("\x00bob\x00"+first.Password), now); err == nil {
		t.Errorf("alice's token logged bob in")
	}
	for _, tok := range []string{first.Password, second.Password} {
		node, err := v.Verify(context.Background(), []byte("alice@"+testHost+"\x00Alice\x00"+tok), now)
		if err != nil || node != "alice" {
			t.Errorf("Verify(alice's token) = %q, %v; want alice", node, err)
		}
	}
	if _, err := v.Verify(context.Background(), []byte("\x00alice\x00"+first.Password), now); err == nil {
		t.Errorf("a token verified twice")
	}
	other, _ := sasl.NewVerifier(testHost, sasl.KeyMap{"access_secret": []byte("another secret"), "otp_seed": testKeys["otp_seed"]}, sasl.DefaultOptions(), nil)
	if _, err := other.Verify(context.Background(), []byte("\x00alice\x00"+second.Password), now); err == nil {
		t.Errorf("a token verified with another access_secret")
	}
}

func TestCredentialsNeedSignIn(t *testing.T) {
	srv := newTestApp(t, testKeys)
	c := browser(t)
	code, v := getCredentials(t, c, srv)
	if code != http.StatusUnauthorized || v.Password != "" || v.Error == "" {
		t.Errorf("/credentials signed out: %d %+v; want 401 with an error and no token", code, v)
	}

	signIn(t, c, srv, "carol")
	if code, _ := getCredentials(t, c, srv); code != http.StatusOK {
		t.Fatalf("/credentials signed in: %d", code)
	}
	u, _ := url.Parse(srv.URL)
	stale := c.Jar.Cookies(u)
	resp, err := c.PostForm(srv.URL+"/signout", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, v := getCredentials(t, c, srv); code != http.StatusUnauthorized {
		t.Errorf("/credentials after sign-out: %d %+v; want 401", code, v)
	}
	// The old cookie, kept by someone, is worth nothing either.
	thief := browser(t)
	thief.Jar.SetCookies(u, stale)
	if code, _ := getCredentials(t, thief, srv); code != http.StatusUnauthorized {
		t.Errorf("/credentials with a signed-out session's cookie: %d; want 401", code)
	}
	forged := browser(t)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "guessed"}})
	if code, _ := getCredentials(t, forged, srv); code != http.StatusUnauthorized {
		t.Errorf("/credentials with a made-up session id: %d; want 401", code)
	}
}

func TestSignInRefusesWhatCannotBeAUser(t *testing.T) {
	srv := newTestApp(t, testKeys)
	for _, name := range []string{"", "a b", "a@b", "a/b", "<script>", `"q"`, "a:b", strings.Repeat("x", 1024)} {
		c := browser(t)
		resp, err := c.PostForm(srv.URL+"/signin", url.Values{"username": {name}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `id="signin-error"`) {
			t.Errorf("sign-in as %.20q: %s; want 400 and the form with an error", name, resp.Status)
		}
		if strings.Contains(string(body), "<script>") {
			t.Errorf("sign-in as %.20q: the name is in the page unescaped", name)
		}
		if len(resp.Cookies()) != 0 {
			t.Errorf("sign-in as %.20q: set a cookie", name)
		}
	}
}

// A form on another site cannot sign a visitor in (or out).
func TestSignInRefusesCrossOrigin(t *testing.T) {
	srv := newTestApp(t, testKeys)
	req, _ := http.NewRequest("POST", srv.URL+"/signin", strings.NewReader("username=mallory"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := browser(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site sign-in: %s, cookies %v; want 403 and none", resp.Status, resp.Cookies())
	}
}

func TestPages(t *testing.T) {
	srv := newTestApp(t, testKeys)
	c := browser(t)

	resp, body := get(t, c, srv.URL+"/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/signin"`) || strings.Contains(body, "converse.min.js") {
		t.Errorf("/ signed out: %s; want the sign-in form and no chat", resp.Status)
	}

	signIn(t, c, srv, "dora")
	resp, body = get(t, c, srv.URL+"/")
	for _, want := range []string{
		`<script type="module" src="/dist/converse.min.js">`,
		`<script type="module" src="/chat.js">`,
		`"websocket_url":"ws://127.0.0.1:5280/xmpp-websocket"`,
		`"credentials_url":"/credentials"`,
		`"jid":"dora@example.test"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("chat page lacks %s", want)
		}
	}
	if strings.Contains(body, `"password"`) {
		t.Errorf("the chat page holds a token: a reconnect would reuse it")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "connect-src 'self' ws://127.0.0.1:5280;") {
		t.Errorf("Content-Security-Policy %q: want everything from the application and WebSocket to xtokend only", csp)
	}

	for path, want := range map[string]string{"/chat.js": "class XToken extends Strophe.SASLPlain", "/dist/converse.min.js": "// converse"} {
		resp, body := get(t, c, srv.URL+path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("%s: %s; want 200 with %q", path, resp.Status, want)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("%s: Content-Type %q; a module script must be JavaScript", path, ct)
		}
	}
	if resp, _ := get(t, c, srv.URL+"/dist/../app.go"); resp.StatusCode == http.StatusOK {
		t.Errorf("/dist/../app.go: served")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := Config{Host: testHost, Keys: testKeys, Options: sasl.DefaultOptions(), WebSocketURL: "wss://chat.example.test/xmpp-websocket"}
	if _, err := New(good); err != nil {
		t.Fatalf("New(good): %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"http URL":     func(c *Config) { c.WebSocketURL = "http://127.0.0.1:5280/xmpp-websocket" },
		"no URL":       func(c *Config) { c.WebSocketURL = "" },
		"bad host":     func(c *Config) { c.Host = "a b" },
		"no seed":      func(c *Config) { c.Keys = sasl.KeyMap{"access_secret": []byte("x")} },
		"short digits": func(c *Config) { c.Options.OTPDigits = 2 },
		"empty secret": func(c *Config) { c.Keys = sasl.KeyMap{"access_secret": nil, "otp_seed": []byte("y")} },
	} {
		cfg := good
		mutate(&cfg)
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "webapp: ") {
			t.Errorf("%s: New = %v; want an error prefixed webapp:", name, err)
		}
	}
}

// The application reads the key files as xtokend does: Prosody's layout (a raw access_secret,
// a base32 otp_seed) with the newline an editor leaves.
func TestKeyFilesReadAsTheServerReadsThem(t *testing.T) {
	dir := t.TempDir()
	secret := "RAWSECRETTEXT0123456789"
	seed := make([]byte, 20)
	copy(seed, "seed bytes, twenty..")
	writeKey(t, filepath.Join(dir, "access_secret"), secret+"\n")
	writeKey(t, filepath.Join(dir, "otp_seed"), " "+base32.StdEncoding.EncodeToString(seed)+"\n")
	store, err := loadKeys(testHost, filepath.Join(dir, "access_secret"), "raw", filepath.Join(dir, "otp_seed"), "base32", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestApp(t, store)
	c := browser(t)
	signIn(t, c, srv, "erin")
	_, v := getCredentials(t, c, srv)
	keys := sasl.KeyMap{"access_secret": []byte(secret), "otp_seed": seed}
	if node, err := sasl.Verify(context.Background(), keys, sasl.DefaultOptions(), "erin", v.Password, testHost, time.Now()); err != nil || node != "erin" {
		t.Errorf("token from the key files: Verify = %q, %v; want erin", node, err)
	}

	if _, err := loadKeys(testHost, filepath.Join(dir, "missing"), "raw", filepath.Join(dir, "otp_seed"), "base32", slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), testHost) {
		t.Errorf("a missing key file: %v; want an error naming the host and the file", err)
	}
}

func writeKey(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
