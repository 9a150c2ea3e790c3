package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestKeepSelfSigned(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	now := time.Now()
	hosts := []string{"a.test", "b.test"}

	first, err := KeepSelfSigned(certFile, keyFile, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Made || !first.Leaf.IsCA || first.Leaf.Subject.CommonName != "a.test" {
		t.Fatalf("first: made %v, CA %v, CN %q", first.Made, first.Leaf.IsCA, first.Leaf.Subject.CommonName)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v; want mode 0600", fi, err)
	}

	for _, tc := range []struct {
		name  string
		hosts []string
		now   time.Time
		same  bool
	}{
		{"same hosts", hosts, now, true},
		{"fewer hosts", hosts[:1], now, true},
		{"a host more", append(hosts, "c.test"), now, false},
		{"a month before expiry", hosts, first.Leaf.NotAfter.Add(-selfSignedRenewBefore + time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := Fingerprint(mustKept(t, certFile, keyFile, hosts, now).Leaf)
			got, err := KeepSelfSigned(certFile, keyFile, tc.hosts, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if same := Fingerprint(got.Leaf) == before; same != tc.same || got.Made == tc.same {
				t.Errorf("same certificate %v (made %v), want %v", same, got.Made, tc.same)
			}
		})
	}

	// A key that does not match its certificate is replaced, not used.
	other, _, _, err := makeSelfSigned(hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, other, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := KeepSelfSigned(certFile, keyFile, hosts, now)
	if err != nil || !got.Made {
		t.Fatalf("mismatched pair: made %v, err %v; want a new pair", got != nil && got.Made, err)
	}
}

func mustKept(t *testing.T, certFile, keyFile string, hosts []string, now time.Time) *KeptCertificate {
	t.Helper()
	k, err := KeepSelfSigned(certFile, keyFile, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestFingerprint(t *testing.T) {
	_, _, leaf, err := makeSelfSigned([]string{"a.test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint(leaf)
	if len(fp) != 32*3-1 || fp[2] != ':' {
		t.Fatalf("Fingerprint = %q: want 32 colon-separated hex pairs", fp)
	}
}
