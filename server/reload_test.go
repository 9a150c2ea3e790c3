package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/sasl"
	"github.com/xtokend/xtokend/server/adminclient"
)

func TestReloadSwapsFileKeys(t *testing.T) {
	oldKeys, newKeys := newOpsKeys(t), newOpsKeys(t)
	ts := startOpsServer(t, oldKeys, opsOptions{})
	ac := adminclient.New(ts.Socket)
	defer ac.Close()
	ctx := context.Background()

	// Before: sessions on both hosts, and tokens minted but not used yet.
	alice := ts.mustLogin(t, "alice@first.com", ts.mint(t, "alice@first.com"))
	bob := ts.mustLogin(t, "bob@localhost", ts.mint(t, "bob@localhost"))
	if alice.serial != 1 {
		t.Fatalf("certificate serial %d, want 1", alice.serial)
	}
	oldFileToken := ts.mint(t, "carol@first.com")
	ramTok, err := ac.Mint(ctx, "dave@localhost")
	if err != nil {
		t.Fatal(err)
	}

	newKeys.write(t, ts.Dir)
	writeOpsCert(t, ts.Dir, ts.roots, "cert.pem", "key.pem", 2)
	if err := ts.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}

	// A token signed with the old file key no longer logs in.
	if _, err := ts.opsLogin(t, "carol@first.com", oldFileToken); err == nil || !strings.Contains(err.Error(), "not-authorized") {
		t.Fatalf("old file-key token after reload: %v, want not-authorized", err)
	}
	// A token minted independently from the new key bytes logs in: the
	// server really uses the new file, not just some other key.
	keys := sasl.KeyMap{"access_secret": newKeys.secret, "otp_seed": newKeys.seed}
	newTok, _, err := sasl.Mint(keys, sasl.DefaultOptions(), "carol", "first.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	carol := ts.mustLogin(t, "carol@first.com", newTok)
	if carol.serial != 2 {
		t.Errorf("a connection after the reload was shown certificate %d, want the new one (2)", carol.serial)
	}
	// RAM keys kept their bytes: a token minted before the reload works.
	dave := ts.mustLogin(t, "dave@localhost", ramTok.Token)

	// Sessions from before the reload are up and still route, both ways.
	alice.ping("after-reload")
	alice.message(carol, "from before the reload")
	carol.message(alice, "to before the reload")
	bob.message(dave, "ram host")
	sessions, _ := ac.Sessions(ctx)
	if len(sessions["first.com"]) != 2 || len(sessions["localhost"]) != 2 {
		t.Errorf("sessions after reload: %v", sessions)
	}
	if v := opsMetric(t, ts.scrape(t), `xtokend_reloads_total{result="success"}`); v != 1 {
		t.Errorf("reloads_total{success} = %v", v)
	}
}

func TestReloadRefusedKeepsKeys(t *testing.T) {
	keys := newOpsKeys(t)
	ts := startOpsServer(t, keys, opsOptions{})
	alice := ts.mustLogin(t, "alice@first.com", ts.mint(t, "alice@first.com"))

	for _, tc := range []struct {
		name   string
		break_ func()
		fix    func()
		errHas string
	}{
		{
			name:   "missing key file",
			break_: func() { os.Remove(filepath.Join(ts.Dir, "first_otp_seed")) },
			fix:    func() { keys.write(t, ts.Dir) },
			errHas: "first_otp_seed",
		},
		{
			name:   "seed that does not decode",
			break_: func() { os.WriteFile(filepath.Join(ts.Dir, "first_otp_seed"), []byte("not base32!"), 0o600) },
			fix:    func() { keys.write(t, ts.Dir) },
			errHas: "otp_seed",
		},
		{
			name:   "empty secret",
			break_: func() { os.WriteFile(filepath.Join(ts.Dir, "first_access_secret"), nil, 0o600) },
			fix:    func() { keys.write(t, ts.Dir) },
			errHas: "access_secret",
		},
		{
			name: "certificate that does not match its key",
			break_: func() {
				writeOpsCert(t, ts.Dir, ts.roots, "cert.pem", "other_key.pem", 3)
			},
			fix:    func() { writeOpsCert(t, ts.Dir, ts.roots, "cert.pem", "key.pem", 4) },
			errHas: "tls",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Also change the secret file, so a partial reload would show.
			other := newOpsKeys(t)
			if tc.name != "empty secret" {
				os.WriteFile(filepath.Join(ts.Dir, "first_access_secret"), other.secret, 0o600)
			}
			tc.break_()
			err := ts.Reload()
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("Reload: %v, want an error naming %q", err, tc.errHas)
			}
			if !strings.Contains(ts.logs.String(), "reload refused") {
				t.Error("the refusal was not logged")
			}
			// The keys in force are the old ones: a token from the old bytes logs in.
			old := sasl.KeyMap{"access_secret": keys.secret, "otp_seed": keys.seed}
			tok, _, err := sasl.Mint(old, sasl.DefaultOptions(), "bob", "first.com", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			bob := ts.mustLogin(t, "bob@first.com", tok)
			if bob.serial != 1 {
				t.Errorf("certificate %d after a refused reload, want the old one (1)", bob.serial)
			}
			bob.message(alice, "still here")
			bob.xs.Close()
			tc.fix()
		})
	}
	// After fixing the files (same keys, the old certificate again), a reload works.
	writeOpsCert(t, ts.Dir, ts.roots, "cert.pem", "key.pem", 1)
	if err := ts.Reload(); err != nil {
		t.Fatalf("Reload after the fix: %v", err)
	}
	body := ts.scrape(t)
	if v := opsMetric(t, body, `xtokend_reloads_total{result="failure"}`); v != 4 {
		t.Errorf("reloads_total{failure} = %v, want 4", v)
	}
}
