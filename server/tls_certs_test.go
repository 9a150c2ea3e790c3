package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/internal/testkit"
)

// writeServedCert writes a self-signed pair for names with the given serial
// into dir and makes roots trust it.
func (ts *opsServer) writeServedCert(t *testing.T, certFile, keyFile string, serial int64, names ...string) {
	t.Helper()
	c, err := testkit.SelfSigned(serial, names...)
	if err != nil {
		t.Fatal(err)
	}
	ts.roots.AddCert(c.TLS.Leaf)
	if err := c.WriteFiles(filepath.Join(ts.Dir, certFile), filepath.Join(ts.Dir, keyFile)); err != nil {
		t.Fatal(err)
	}
}

// A host with a [host_config.tls] of its own shows its certificate on
// STARTTLS, picked by the stream's host; the other hosts show the [tls] one.
// Reload swaps both, and a reload with a broken host pair changes neither.
func TestHostCertificate(t *testing.T) {
	keys := newOpsKeys(t)
	ts := startOpsServer(t, keys, opsOptions{configure: func(cfg *config.Config) {
		c, err := testkit.SelfSigned(7, "first.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteFiles(filepath.Join(cfg.Dir, "first_cert.pem"), filepath.Join(cfg.Dir, "first_key.pem")); err != nil {
			t.Fatal(err)
		}
		cfg.HostConfig[0].TLS = &config.HostTLSOptions{Cert: "first_cert.pem", Key: "first_key.pem"}
	}})
	// The clients trust the host certificate only once it is in the pool:
	// written again with the same serial, then trusted.
	ts.writeServedCert(t, "first_cert.pem", "first_key.pem", 7, "first.com")
	if err := ts.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}

	shown := func(bare string) int64 {
		t.Helper()
		return ts.mustLogin(t, bare, ts.mint(t, bare)).serial
	}
	if got := shown("alice@first.com"); got != 7 {
		t.Errorf("first.com showed certificate %d, want its own (7)", got)
	}
	if got := shown("bob@localhost"); got != 1 {
		t.Errorf("localhost showed certificate %d, want the [tls] one (1)", got)
	}

	ts.writeServedCert(t, "first_cert.pem", "first_key.pem", 8, "first.com")
	ts.writeServedCert(t, "cert.pem", "key.pem", 2, "localhost", "first.com")
	if err := ts.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := shown("carol@first.com"); got != 8 {
		t.Errorf("after the reload first.com showed certificate %d, want 8", got)
	}
	if got := shown("dave@localhost"); got != 2 {
		t.Errorf("after the reload localhost showed certificate %d, want 2", got)
	}

	// A broken host pair refuses the whole reload: the [tls] certificate
	// does not move either.
	ts.writeServedCert(t, "cert.pem", "key.pem", 3, "localhost", "first.com")
	if err := os.Remove(filepath.Join(ts.Dir, "first_key.pem")); err != nil {
		t.Fatal(err)
	}
	err := ts.Reload()
	if err == nil || !strings.Contains(err.Error(), `host "first.com"`) || !strings.Contains(err.Error(), "first_cert.pem") {
		t.Fatalf("Reload with first.com's key gone: %v, want an error naming the host and its cert", err)
	}
	if got := shown("erin@first.com"); got != 8 {
		t.Errorf("after a refused reload first.com showed certificate %d, want 8", got)
	}
	if got := shown("frank@localhost"); got != 2 {
		t.Errorf("after a refused reload localhost showed certificate %d, want 2", got)
	}
}
