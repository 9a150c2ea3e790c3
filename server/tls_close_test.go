package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes that reach the connection.
type countingConn struct {
	net.Conn
	writes atomic.Int32
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestTLSStreamEndOneWrite: under TLS, the server's </stream:stream> and
// close_notify go to the socket in one write, also while the read loop waits
// in another goroutine; the client reads the end, then a clean end of TLS
// (io.EOF, not a truncation); Close after it writes nothing more.
func TestTLSStreamEndOneWrite(t *testing.T) {
	cert, err := selfSigned([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type clientResult struct {
		read string
		err  error
	}
	done := make(chan clientResult, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			done <- clientResult{err: err}
			return
		}
		defer c.Close()
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := tc.Write([]byte("<x/>")); err != nil { // the handshake, then a stanza
			done <- clientResult{err: err}
			return
		}
		b, err := io.ReadAll(tc) // until close_notify: io.EOF, reported as nil
		done <- clientResult{string(b), err}
	}()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingConn{Conn: raw}
	tr := newTCPTransport(counted, "127.0.0.1", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.StartTLS(ctx, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatal(err)
	}
	if err := tr.EndNegotiation(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := io.ReadAtLeast(tr.StreamReader(), buf, 4); err != nil || string(buf[:n]) != "<x/>" {
		t.Fatalf("server read %q, %v", buf[:n], err)
	}
	// The read loop waits for the client meanwhile: the end is written from
	// another goroutine, as when a session is ended from elsewhere.
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		io.Copy(io.Discard, tr.StreamReader())
	}()
	before := counted.writes.Load()
	tr.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := tr.WriteStreamClose(); err != nil {
		t.Fatal(err)
	}
	if n := counted.writes.Load() - before; n != 1 {
		t.Errorf("the stream's end and close_notify took %d writes, want 1", n)
	}
	if err := tr.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("Close: %v", err)
	}
	if n := counted.writes.Load() - before; n != 1 {
		t.Errorf("Close wrote again (%d writes in all), want no second close_notify", n)
	}
	<-reading
	r := <-done
	if r.err != nil || r.read != streamEnd {
		t.Fatalf("client read %q, %v; want %q then a clean close_notify", r.read, r.err, streamEnd)
	}
}
