package server_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/server/adminclient"
	"github.com/xtokend/xtokend/server/servertest"
)

// TestRotateRAMOneNode: POST /v1/hosts/{host}/rotate on a server alone
// gives the host's RAM keys new bytes; a token minted before still logs in,
// one minted after too, and one token lifetime later the old keys are gone.
// A host with file keys answers 409, an unknown host 404.
func TestRotateRAMOneNode(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ts := servertest.Start(t, servertest.Options{Hosts: []string{"localhost", "first.com"}, Configure: func(c *config.Config) {
		shortPeriod(c)
		c.General.AdminSocket = sock
		ks := keystore.DefaultOptions() // RAM keys for localhost; first.com keeps its files
		ks.RAMKeySize = 64
		c.HostConfig[0].Modules.Keystore = &ks
	}})
	testkit.Eventually(t, waitLimit, "no admin socket", func() bool { _, err := os.Lstat(sock); return err == nil })
	before, beforeReload := ts.Mint(t, "alice@localhost"), ts.Mint(t, "dave@localhost")
	ac := adminclient.New(sock)
	defer ac.Close()
	r, err := ac.RotateRAM(context.Background(), "localhost")
	if err != nil || r.Host != "localhost" || strings.Join(r.Keys, ",") != "access_secret,otp_seed" || !r.OldKeysUntil.After(time.Now()) {
		t.Fatalf("POST /v1/hosts/localhost/rotate = %+v, %v", r, err)
	}
	if n := ts.KeyVersions("localhost", "access_secret"); n != 2 {
		t.Fatalf("%d versions of access_secret during the rotation, want 2", n)
	}
	if got := rawAuth(t, ts, "alice", "localhost", before); got != "success" {
		t.Fatalf("a token minted before the rotation: %s", got)
	}
	if got := rawAuth(t, ts, "bob", "localhost", ts.Mint(t, "bob@localhost")); got != "success" {
		t.Fatalf("a token minted after the rotation: %s", got)
	}
	// A reload (SIGHUP) in the window keeps both versions.
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := ts.KeyVersions("localhost", "otp_seed"); n != 2 {
		t.Fatalf("%d versions of otp_seed after a reload in the rotation's window, want 2", n)
	}
	if got := rawAuth(t, ts, "dave", "localhost", beforeReload); got != "success" {
		t.Fatalf("a token minted before the rotation, after a reload: %s", got)
	}
	testkit.Eventually(t, waitLimit, "the old keys still there", func() bool {
		return ts.KeyVersions("localhost", "access_secret") == 1 && ts.KeyVersions("localhost", "otp_seed") == 1
	})
	if time.Now().Before(r.OldKeysUntil) {
		t.Fatalf("the old keys went before %v", r.OldKeysUntil)
	}
	if got := rawAuth(t, ts, "carol", "localhost", ts.Mint(t, "carol@localhost")); got != "success" {
		t.Fatalf("a token minted after the old keys went: %s", got)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/v1/hosts/first.com/rotate", http.StatusConflict, "no RAM keys"},
		{"/v1/hosts/nowhere.example/rotate", http.StatusNotFound, "unknown host"},
	} {
		status, body, _ := rawRequestText(t, sock, "POST", tc.path, "")
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s: %d %s; want %d and %q", tc.path, status, body, tc.status, tc.want)
		}
	}
}
