package adminclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// serve answers every request on a fresh unix socket with h.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		check   func(error) bool
		want    string
	}{
		{"JSON error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			w.Write([]byte(`{"error":"unknown host \"x\""}`))
		}, func(err error) bool {
			var e *APIError
			return errors.As(err, &e) && e.Status == 404 && e.Message == `unknown host "x"`
		}, "404"},
		{"text error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", 502)
		}, func(err error) bool {
			var e *APIError
			return errors.As(err, &e) && e.Status == 502 && e.Message == "Bad Gateway"
		}, "502"},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("hello"))
		}, func(err error) bool { return err != nil }, "not the expected JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(serve(t, tc.handler))
			defer c.Close()
			_, err := c.Mint(ctx, "alice@localhost")
			if !tc.check(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Mint: %v", err)
			}
		})
	}

	// Nothing at the path: ErrNotRunning, naming the path.
	missing := filepath.Join(t.TempDir(), "none.sock")
	_, err := New(missing).Hosts(ctx)
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("no socket: %v", err)
	}
}

func TestClientRequests(t *testing.T) {
	var got []string
	sock := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		switch r.URL.Path {
		case "/v1/tokens":
			w.Write([]byte(`{"jid":"alice@localhost","token":"t","expires_at":"2030-01-02T03:04:05Z"}`))
		case "/v1/hosts":
			w.Write([]byte(`{"hosts":[{"host":"localhost","keys":[{"name":"k","type":"ram","size":1}]}]}`))
		case "/v1/sessions":
			w.Write([]byte(`{"sessions":{"localhost":["alice@localhost/r"]}}`))
		}
	})
	c := New(sock)
	defer c.Close()
	ctx := context.Background()
	tok, err := c.Mint(ctx, "alice@localhost")
	if err != nil || tok.Token != "t" || tok.ExpiresAt.Year() != 2030 {
		t.Fatalf("Mint = %+v, %v", tok, err)
	}
	hosts, err := c.Hosts(ctx)
	if err != nil || len(hosts) != 1 || hosts[0].Keys[0].Type != "ram" {
		t.Fatalf("Hosts = %+v, %v", hosts, err)
	}
	sessions, err := c.Sessions(ctx)
	if err != nil || sessions["localhost"][0] != "alice@localhost/r" {
		t.Fatalf("Sessions = %+v, %v", sessions, err)
	}
	want := "POST /v1/tokens application/json|GET /v1/hosts |GET /v1/sessions "
	if strings.Join(got, "|") != want {
		t.Errorf("requests %q, want %q", strings.Join(got, "|"), want)
	}
}
