package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/sasl"
)

// TestKeyRotationUnderLoad is issue 17's file-key rotation with the real
// binary: while an application logs users in without pause, minting each
// token with the access secret it holds, the key goes through the three
// steps of the README (learn the next version, sign with it, drop the old),
// each a config edit and SIGHUP, and the application switches keys between
// the first two. No login may be refused; the metric shows the logins that
// used the accepted version; the dropped version no longer logs in.
func TestKeyRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := e2eBuild(t)
	dir := t.TempDir()
	c2s, metrics := testkit.FreeAddr(t), testkit.FreeAddr(t)
	v1, v2 := []byte("first version of the access secret"), []byte("second version of the secret, rotated in")
	seed := []byte("the OTP seed of first.com, 20+ bytes")
	for name, b := range map[string][]byte{"secret.v1": v1, "secret.v2": v2, "seed": seed} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg := func(path, accept string) {
		t.Helper()
		cfg := fmt.Sprintf(`[general]
hosts = ["first.com"]
listen = %q
metrics_listen = %q

[modules.mod_keystore]
keys = [
  { name = "access_secret", type = "file", path = %q%s },
  { name = "otp_seed", type = "file", path = "seed" },
]
`, c2s, metrics, path, accept)
		if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg("secret.v1", "")
	srv := e2eStart(t, bin, dir)
	srv.waitFor(t, "listener", func() bool { return strings.Contains(srv.logs.String(), "listening") })

	opts := sasl.DefaultOptions()
	var (
		appKey       atomic.Pointer[[]byte] // the key the application mints with
		ok, refused  atomic.Int64
		stop         = make(chan struct{})
		wg           sync.WaitGroup
		firstRefusal atomic.Value
		loginAs      = func(i int, key []byte) error {
			tok, _, err := sasl.MintToken(key, seed, opts, fmt.Sprintf("user%d", i), "first.com", time.Now())
			if err != nil {
				return err
			}
			return e2eLogin(t, c2s, fmt.Sprintf("user%d@first.com", i), tok)
		}
	)
	appKey.Store(&v1)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += 3 {
				select {
				case <-stop:
					return
				default:
				}
				if err := loginAs(i, *appKey.Load()); err != nil {
					refused.Add(1)
					firstRefusal.CompareAndSwap(nil, err.Error())
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	// waitLogins waits until n more logins succeeded.
	waitLogins := func(what string, n int64) {
		t.Helper()
		from := ok.Load()
		srv.waitFor(t, what, func() bool { return ok.Load() >= from+n })
	}
	reloads := 0
	step := func(path, accept string) {
		t.Helper()
		writeCfg(path, accept)
		reloads++
		srv.cmd.Process.Signal(syscall.SIGHUP)
		srv.waitFor(t, fmt.Sprintf("reload %d", reloads), func() bool {
			return strings.Count(srv.logs.String(), "reloaded keys and certificate") >= reloads
		})
		if strings.Contains(srv.logs.String(), "reload refused") {
			t.Fatalf("a reload was refused:\n%s", srv.logs.String())
		}
	}

	waitLogins("logins with the first version", 5)
	step("secret.v1", `, accept = ["secret.v2"]`) // 1. learn the next version
	waitLogins("logins after step 1", 5)
	appKey.Store(&v2) // the application switches
	// Each of the 3 workers may have had a v1 token in flight: 5 + 3 logins
	// make at least 5 with v2.
	waitLogins("logins with the next version", 5+3)
	step("secret.v2", `, accept = ["secret.v1"]`) // 2. sign with the next version
	waitLogins("logins after step 2", 5)
	// A token of the old version still logs in, and is counted.
	if err := loginAs(1000, v1); err != nil {
		t.Fatalf("a token of the accepted old version after step 2: %v", err)
	}
	step("secret.v2", "") // 3. drop the old version
	waitLogins("logins after step 3", 5)
	close(stop)
	wg.Wait()

	if n := refused.Load(); n != 0 {
		t.Fatalf("%d of %d logins refused during the rotation; the first: %v", n, n+ok.Load(), firstRefusal.Load())
	}
	t.Logf("%d logins through three rotation steps, none refused", ok.Load())
	if err := loginAs(1001, v1); err == nil {
		t.Fatal("a token of the dropped version logged in after step 3")
	}
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var counted float64
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `xtokend_logins_accepted_key_version_total{host="first.com"}`) {
			fmt.Sscan(strings.Fields(line)[1], &counted)
		}
	}
	// Between steps 1 and 2 the application's v2 tokens, between 2 and 3
	// the deliberate v1 token, verified with an accepted version.
	if counted < 6 {
		t.Fatalf("xtokend_logins_accepted_key_version_total = %v, want at least 6:\n%s", counted, body)
	}
}

// TestCheckConfigShowsAcceptedVersions: check-config names every version a
// host accepts, by file and variable, never by value.
func TestCheckConfigShowsAcceptedVersions(t *testing.T) {
	dir := t.TempDir()
	for name, b := range map[string]string{"secret.v1": "one secret", "secret.v2": "two secret", "seed": "JBSWY3DPEHPK3PXP"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := `[general]
hosts = ["first.com"]
[modules.mod_keystore]
keys = [
  { name = "access_secret", type = "file", path = "secret.v2", accept = ["secret.v1"] },
  { name = "otp_seed", type = "env", var = "ROT_SEED", encoding = "base32", accept = ["ROT_SEED_OLD"] },
]
`
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROT_SEED", "JBSWY3DPEHPK3PXP")
	t.Setenv("ROT_SEED_OLD", "KRUGS4ZANFZSAYJA")
	var stdout, stderr strings.Builder
	if code := run([]string{"check-config", "-config", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"access_secret  accepts", filepath.Join(dir, "secret.v1"),
		"otp_seed       accepts", "env ROT_SEED_OLD",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config does not show %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"one secret", "two secret", "KRUGS4ZANFZSAYJA"} {
		if strings.Contains(out, secret) {
			t.Errorf("check-config printed a key's value:\n%s", out)
		}
	}
}
