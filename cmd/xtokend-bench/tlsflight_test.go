package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// writeCounter counts the writes that reach the socket.
type writeCounter struct {
	net.Conn
	writes atomic.Int32
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func testServerCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestFlightConnSendsFinishedWithHeader: the client's TLS 1.3 handshake and the stream header
// after it cost two writes (the ClientHello; the Finished with the header), not three; after
// that read, a write goes out at once (a bound session's writer does not read).
func TestFlightConnSendsFinishedWithHeader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conf := &tls.Config{Certificates: []tls.Certificate{testServerCert(t)}, MinVersion: tls.VersionTLS12}
	got := make(chan string, 2)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := tls.Server(c, conf)
		buf := make([]byte, 64)
		for _, reply := range []string{"features", "bye"} {
			n, err := io.ReadAtLeast(tc, buf, 6)
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			got <- string(buf[:n])
			tc.Write([]byte(reply))
		}
	}()

	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	wc := &writeCounter{Conn: raw}
	fc := newFlightConn(wc)
	tc := tls.Client(fc, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", CurvePreferences: []tls.CurveID{tls.X25519}})
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	fc.lastFlight()
	if _, err := tc.Write([]byte("header")); err != nil {
		t.Fatal(err)
	}
	if n := wc.writes.Load(); n != 1 {
		t.Fatalf("before the read after the handshake: %d writes reached the socket, want 1 (the ClientHello)", n)
	}
	buf := make([]byte, 64)
	n, err := tc.Read(buf)
	if err != nil || string(buf[:n]) != "features" {
		t.Fatalf("read %q, %v; want features", buf[:n], err)
	}
	if s := <-got; s != "header" {
		t.Fatalf("server read %q, want header", s)
	}
	if n := wc.writes.Load(); n != 2 {
		t.Fatalf("the handshake and the header took %d writes, want 2", n)
	}
	if _, err := tc.Write([]byte("stream")); err != nil {
		t.Fatal(err)
	}
	if n := wc.writes.Load(); n != 3 {
		t.Fatalf("a write after the negotiation's last read is held back (%d writes), want it written at once", n)
	}
	if s := <-got; s != "stream" {
		t.Fatalf("server read %q, want stream", s)
	}
}
