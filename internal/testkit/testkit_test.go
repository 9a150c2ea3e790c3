package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

func TestSelfSignedVerifies(t *testing.T) {
	c, err := SelfSigned(7, "localhost", "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TLS.Leaf.SerialNumber.Int64(); got != 7 {
		t.Errorf("serial %d, want 7", got)
	}
	for _, name := range []string{"localhost", "example.org"} {
		if _, err := c.TLS.Leaf.Verify(x509.VerifyOptions{Roots: c.Pool(), DNSName: name}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.TLS.Leaf.Verify(x509.VerifyOptions{Roots: c.Pool(), DNSName: "other.org"}); err == nil {
		t.Error("verified for a name it was not made for")
	}
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := c.WriteFiles(cf, kf); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(cf, kf); err != nil {
		t.Errorf("written files do not load: %v", err)
	}
}

func TestSelfSignedRandomSerial(t *testing.T) {
	a, err := SelfSigned(0, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	b, err := SelfSigned(0, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if a.TLS.Leaf.SerialNumber.Sign() <= 0 || a.TLS.Leaf.SerialNumber.Cmp(b.TLS.Leaf.SerialNumber) == 0 {
		t.Errorf("serials %v and %v: want positive and distinct", a.TLS.Leaf.SerialNumber, b.TLS.Leaf.SerialNumber)
	}
	if _, err := SelfSigned(0); err == nil {
		t.Error("no names: want an error")
	}
}

func TestLogBufferConcurrent(t *testing.T) {
	var b LogBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Errorf("%d bytes, want 800", n)
	}
}

func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	l.Close()
}
