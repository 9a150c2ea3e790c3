package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/server/adminclient"
)

// fakeAdmin is a backend with fixed answers, so the HTTP side is tested alone.
type fakeAdmin struct {
	mu     sync.Mutex
	minted []string
}

var fakeExpiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *fakeAdmin) HostNames() []string { return []string{"localhost", "first.com"} }

func (f *fakeAdmin) HostKeys() ([]adminclient.Host, error) {
	return []adminclient.Host{
		{Host: "localhost", Keys: []adminclient.Key{{Name: "access_secret", Type: "ram", Size: 2048}}},
		{Host: "first.com", Keys: []adminclient.Key{{Name: "access_secret", Type: "file", Size: 32}}},
	}, nil
}

func (f *fakeAdmin) Mint(ctx context.Context, bare string) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.minted = append(f.minted, bare)
	if bare == "broken@first.com" {
		return "", time.Time{}, errors.New("sasl: key access_secret: gone")
	}
	return "SECRET-TOKEN-for-" + bare, fakeExpiry, nil
}

func (f *fakeAdmin) Sessions() map[string][]string {
	return map[string][]string{"localhost": {"bob@localhost/b", "alice@localhost/a"}}
}

func testLogger() (*slog.Logger, *testkit.LogBuffer) {
	buf := &testkit.LogBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func startTestAdmin(t *testing.T, path string, b adminBackend) (*adminServer, *testkit.LogBuffer) {
	t.Helper()
	log, buf := testLogger()
	a, err := startAdmin(path, newAdminHandler(b, log), log)
	if err != nil {
		t.Fatalf("startAdmin: %v", err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	return a, buf
}

// rawRequest sends one HTTP request over the unix socket.
func rawRequest(t *testing.T, sock, method, path, body string) (int, map[string]any, http.Header) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://xtokend"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json (body %s)", method, path, ct, data)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, data)
	}
	return resp.StatusCode, m, resp.Header
}

func TestAdminAPI(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "xtokend.sock")
	backend := &fakeAdmin{}
	_, logs := startTestAdmin(t, sock, backend)
	c := adminclient.New(sock)
	defer c.Close()
	ctx := context.Background()

	tok, err := c.Mint(ctx, "Alice@LocalHost")
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if tok.JID != "alice@localhost" || tok.Token != "SECRET-TOKEN-for-alice@localhost" || !tok.ExpiresAt.Equal(fakeExpiry) {
		t.Fatalf("Mint = %+v", tok)
	}

	for _, tc := range []struct {
		name, body string
		status     int
		errHas     string
	}{
		{"no localpart", `{"jid":"localhost"}`, 400, "no user part"},
		{"full JID", `{"jid":"alice@localhost/phone"}`, 400, "full JID"},
		{"invalid JID", `{"jid":"a b@localhost"}`, 400, "not a valid JID"},
		{"empty JID", `{"jid":""}`, 400, "missing"},
		{"no body", ``, 400, "empty body"},
		{"not JSON", `jid=alice@localhost`, 400, "JSON object"},
		{"unknown field", `{"jid":"alice@localhost","user":"x"}`, 400, "unknown field"},
		{"two objects", `{"jid":"alice@localhost"}{"jid":"bob@localhost"}`, 400, "one JSON object"},
		{"huge body", `{"jid":"` + strings.Repeat("a", 20000) + `@localhost"}`, 400, "bytes"},
		{"unknown host", `{"jid":"alice@example.org"}`, 404, "unknown host"},
		{"backend failure", `{"jid":"broken@first.com"}`, 500, "could not mint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, m, _ := rawRequest(t, sock, "POST", "/v1/tokens", tc.body)
			if status != tc.status {
				t.Errorf("status %d, want %d (%v)", status, tc.status, m)
			}
			if msg, _ := m["error"].(string); !strings.Contains(msg, tc.errHas) {
				t.Errorf("error %q does not contain %q", msg, tc.errHas)
			}
			if _, ok := m["token"]; ok {
				t.Errorf("an error answer holds a token: %v", m)
			}
		})
	}

	// The client turns error answers into *APIError with the status.
	_, err = c.Mint(ctx, "alice@nowhere.example")
	var apiErr *adminclient.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("Mint for an unknown host: %v, want an APIError 404", err)
	}

	status, m, hdr := rawRequest(t, sock, "GET", "/v1/tokens", "")
	if status != 405 || hdr.Get("Allow") != "POST" || m["error"] == nil {
		t.Errorf("GET /v1/tokens: %d %v Allow=%q", status, m, hdr.Get("Allow"))
	}
	if status, m, _ := rawRequest(t, sock, "GET", "/v2/nothing", ""); status != 404 || m["error"] == nil {
		t.Errorf("GET /v2/nothing: %d %v", status, m)
	}

	hosts, err := c.Hosts(ctx)
	if err != nil || len(hosts) != 2 || hosts[0].Keys[0].Size != 2048 {
		t.Fatalf("Hosts = %+v, %v", hosts, err)
	}
	sessions, err := c.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := sessions["localhost"]; len(got) != 2 || got[0] != "alice@localhost/a" {
		t.Errorf("sessions[localhost] = %v, want sorted [alice bob]", got)
	}
	if got, ok := sessions["first.com"]; !ok || got == nil || len(got) != 0 {
		t.Errorf("sessions[first.com] = %#v, want an empty list", got)
	}

	if strings.Contains(logs.String(), "SECRET-TOKEN") {
		t.Errorf("a token reached the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "alice@localhost") {
		t.Errorf("the mint was not logged:\n%s", logs)
	}
}

func TestAdminSocketMode(t *testing.T) {
	dir := t.TempDir() // made before the umask: a folder open to all is refused
	// A umask that would leave the socket open to everyone must not matter.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	sock := filepath.Join(dir, "xtokend.sock")
	a, _ := startTestAdmin(t, sock, &fakeAdmin{})
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the folder holds %d entries, want only the socket (temporary folder left behind?)", len(entries))
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket still there after Close: %v", err)
	}
	_, err = adminclient.New(sock).Hosts(context.Background())
	if !errors.Is(err, adminclient.ErrNotRunning) {
		t.Fatalf("client with no server: %v, want ErrNotRunning", err)
	}
}

func TestAdminStaleSocketReplaced(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "xtokend.sock")
	// A crashed server leaves its socket file behind.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	_, err = adminclient.New(sock).Hosts(context.Background())
	if !errors.Is(err, adminclient.ErrNotRunning) {
		t.Fatalf("client on a stale socket: %v, want ErrNotRunning", err)
	}

	_, logs := startTestAdmin(t, sock, &fakeAdmin{})
	if _, err := adminclient.New(sock).Hosts(context.Background()); err != nil {
		t.Fatalf("the new server does not answer: %v", err)
	}
	if !strings.Contains(logs.String(), "stale admin socket") {
		t.Errorf("replacing a stale socket was not logged:\n%s", logs)
	}
}

func TestAdminLiveSocketRefused(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "xtokend.sock")
	startTestAdmin(t, sock, &fakeAdmin{})
	log, _ := testLogger()
	_, err := startAdmin(sock, newAdminHandler(&fakeAdmin{}, log), log)
	if err == nil || !strings.Contains(err.Error(), "another server is listening") {
		t.Fatalf("second server on a live socket: %v, want a refusal", err)
	}
	if _, err := adminclient.New(sock).Hosts(context.Background()); err != nil {
		t.Fatalf("the first server was disturbed: %v", err)
	}
}

func TestAdminSocketNotASocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xtokend.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	log, _ := testLogger()
	if _, err := startAdmin(path, newAdminHandler(&fakeAdmin{}, log), log); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("startAdmin over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("the regular file was touched")
	}
}

func TestAdminCloseLeavesOthersSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "xtokend.sock")
	a, _ := startTestAdmin(t, sock, &fakeAdmin{})
	// Someone replaced our socket (an operator, another server): not ours to remove.
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a.Close(context.Background())
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("Close removed a socket it did not make: %v", err)
	}
}

func TestAdminSocketPathTooLong(t *testing.T) {
	log, _ := testLogger()
	long := "/tmp/" + strings.Repeat("x", 120) + ".sock"
	if _, err := startAdmin(long, newAdminHandler(&fakeAdmin{}, log), log); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("a path over the limit: %v", err)
	}
}

// BenchmarkAdminMint measures one POST /v1/tokens over the unix socket
// (HTTP, JSON, JID checks; the fake backend's mint is free).
func BenchmarkAdminMint(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "xtokend.sock")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := startAdmin(sock, newAdminHandler(&fakeAdmin{}, log), log)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(context.Background())
	c := adminclient.New(sock)
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Mint(ctx, "alice@localhost"); err != nil {
			b.Fatal(err)
		}
	}
}
