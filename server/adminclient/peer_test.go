package adminclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
)

// An impostor on the socket (someone moved the real one aside and bound
// their own) answers for another JID than the one asked for: that is an
// error, never a token printed as if it were the one asked for.
func TestMintImpostorJID(t *testing.T) {
	sock := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jid":"mallory@localhost","token":"IMPOSTOR-TOKEN","expires_at":"2030-01-02T03:04:05Z"}`))
	})
	c := New(sock)
	defer c.Close()
	tok, err := c.Mint(context.Background(), "alice@localhost")
	if !errors.Is(err, ErrNotOurServer) || !strings.Contains(err.Error(), "mallory@localhost") {
		t.Fatalf("Mint: %v, want ErrNotOurServer naming the JID answered", err)
	}
	if tok.Token != "" {
		t.Errorf("the impostor's token came back: %q", tok.Token)
	}
}

// The JID is compared as a JID: the server answers with the case-mapped form.
func TestMintCaseMappedJID(t *testing.T) {
	sock := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jid":"alice@localhost","token":"T","expires_at":"2030-01-02T03:04:05Z"}`))
	})
	c := New(sock)
	defer c.Close()
	if _, err := c.Mint(context.Background(), "Alice@LocalHost"); err != nil {
		t.Fatalf("Mint: %v", err)
	}
}

// A server running as another user (neither ours nor root) is refused
// before anything is sent. Tests usually run as root, for which every real
// server is acceptable, so the peer's uid is pretended here.
func TestClientRefusesAnotherUsersServer(t *testing.T) {
	asked := false
	sock := serve(t, func(w http.ResponseWriter, r *http.Request) {
		asked = true
		w.Write([]byte(`{"jid":"alice@localhost","token":"T","expires_at":"2030-01-02T03:04:05Z"}`))
	})
	stranger := os.Getuid() + 4242
	if stranger == 0 {
		stranger = 4242
	}
	real := peerUID
	for _, tc := range []struct {
		name string
		uid  int
		ok   bool
	}{
		{"ours", os.Getuid(), true},
		{"root", 0, true},
		{"another user", stranger, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peerUID = func(*net.UnixConn) (int, error) { return tc.uid, nil }
			defer func() { peerUID = real }()
			asked = false
			c := New(sock)
			defer c.Close()
			_, err := c.Mint(context.Background(), "alice@localhost")
			if tc.ok {
				if err != nil {
					t.Fatalf("Mint: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotOurServer) || !strings.Contains(err.Error(), "runs as uid") {
				t.Fatalf("Mint: %v, want ErrNotOurServer", err)
			}
			if asked {
				t.Errorf("the request reached a server of another user")
			}
		})
	}
}

// The real SO_PEERCRED read: our own test server runs as us.
func TestPeerUIDReal(t *testing.T) {
	sock := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	uid, err := peerUID(conn.(*net.UnixConn))
	if err != nil || uid != os.Getuid() {
		t.Fatalf("peerUID = %d, %v; want %d", uid, err, os.Getuid())
	}
}
