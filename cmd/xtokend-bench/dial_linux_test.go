package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tool's own dialer (fileConn) against a real listener: the bytes go both ways, the
// addresses are right, a deadline fires with a timeout error, the server's close reads as
// io.EOF, and writes after it fail.
func TestDialIPv4(t *testing.T) {
	ln := listen4(t)
	c, srv := dialAccept(t, &target{addr: ln.Addr().String(), timeout: 2 * time.Second}, ln)
	if _, ok := c.(*fileConn); !ok {
		t.Fatalf("dialTCP gave a %T, want the tool's *fileConn", c)
	}
	if c.RemoteAddr().String() != ln.Addr().String() || c.LocalAddr().String() != srv.RemoteAddr().String() {
		t.Errorf("addresses %v -> %v, the server sees %v -> %v", c.LocalAddr(), c.RemoteAddr(), srv.RemoteAddr(), srv.LocalAddr())
	}

	if _, err := c.Write([]byte("<hello/>")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	srv.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := io.ReadAtLeast(srv, buf, 8); err != nil || string(buf[:n]) != "<hello/>" {
		t.Fatalf("server read %q, %v", buf[:n], err)
	}
	if _, err := srv.Write([]byte("<answer/>")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := io.ReadAtLeast(c, buf, 9); err != nil || string(buf[:n]) != "<answer/>" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}

	// Nothing more comes: the read deadline fires.
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the deadline fired after %v", d)
	}
	if errorClass(err) != "timeout" {
		t.Errorf("soak's class of %v is %q", err, errorClass(err))
	}

	// The server closes: the client reads io.EOF.
	srv.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(buf); err != io.EOF {
		t.Fatalf("read after the server's close: %d, %v, want io.EOF", n, err)
	}

	// Closed here: reads and writes fail as a net.Conn's do.
	c.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v, want net.ErrClosed", err)
	}
}

// A refused connection fails the dial, and says so.
func TestDialIPv4Refused(t *testing.T) {
	addr := closedAddr(t)
	tg := &target{addr: addr, timeout: 2 * time.Second}
	_, err := tg.dialTCP(context.Background(), addr)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "dial tcp "+addr+": connect: ") {
		t.Fatalf("dial to a closed port: %v, want dial tcp %s: connect: connection refused", err, addr)
	}
	if errorClass(err) != "connection refused" {
		t.Errorf("soak's class of %v is %q", err, errorClass(err))
	}
}

// A server that does not take connections (its accept queue full, so the handshake stays
// unanswered): the dial fails with a timeout within -timeout, not a hang.
func TestDialIPv4Timeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // a queue of one, never accepted
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	tg := &target{addr: addr, timeout: 300 * time.Millisecond}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// The first connections fill the queue; one after them must time out.
	for i := range 8 {
		start := time.Now()
		c, err := tg.dialTCP(context.Background(), addr)
		if err == nil {
			held = append(held, c)
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || errorClass(err) != "timeout" || err.Error() != "dial tcp "+addr+": i/o timeout" {
			t.Fatalf("dial %d: %v, want a timeout", i, err)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
			t.Errorf("dial %d timed out after %v, want about 300ms", i, d)
		}
		return
	}
	t.Fatalf("%d dials to a full accept queue all succeeded", len(held))
}

// -from: the connection comes from that address.
func TestDialIPv4From(t *testing.T) {
	ln := listen4(t)
	c := &common{addr: ln.Addr().String(), host: "localhost", mech: "PLAIN", from: "127.0.0.2", timeout: 2 * time.Second}
	tg, err := c.target()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		conn, srv := dialAccept(t, tg, ln)
		if ip := srv.RemoteAddr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 2)) {
			t.Errorf("the server sees the connection from %v, want 127.0.0.2", ip)
		}
		srv.Close()
		conn.Close()
	}
}

// dialAccept dials ln with tg's dialer and accepts: the two ends, closed at the test's end.
func dialAccept(t *testing.T, tg *target, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	client, err := tg.dialTCP(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}
