package server

import (
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xtokend/xtokend/internal/testkit"
)

// TestStreamEndRidesWithTheFIN: on plaintext TCP the server's
// </stream:stream> and the FIN reach the client as one segment, counted by
// the client's kernel (TCP_INFO's segments in), not as two.
func TestStreamEndRidesWithTheFIN(t *testing.T) {
	server, client := testkit.TCPPair(t)
	before := segsIn(t, client)
	tr := newTCPTransport(server, "127.0.0.1", 0)
	tr.EndNegotiation()
	if err := tr.WriteStreamClose(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(client)
	if err != nil || string(got) != streamEnd {
		t.Fatalf("the client read %q, %v", got, err)
	}
	if n := segsIn(t, client) - before; n != 1 {
		t.Errorf("the stream's end and the FIN came in %d segments, want 1", n)
	}
}

// A client whose bytes the server left unread gets a reset at the close:
// the stream's end is sent before it, not held back for the FIN and lost.
func TestStreamEndBeforeResetOnUnreadBytes(t *testing.T) {
	server, client := testkit.TCPPair(t)
	if _, err := client.Write([]byte("<message>never read")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if n := unreadBytes(t, server); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the client's bytes did not arrive")
		}
		time.Sleep(time.Millisecond)
	}
	tr := newTCPTransport(server, "127.0.0.1", 0)
	tr.EndNegotiation()
	if err := tr.WriteStreamClose(); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	got := make([]byte, len(streamEnd))
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != streamEnd {
		t.Fatalf("the client read %q, %v; want the stream's end", got, err)
	}
}

func unreadBytes(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	if ierr != nil {
		t.Fatal(ierr)
	}
	return n
}

func segsIn(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var ierr error
	rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if ierr != nil {
		t.Fatal(ierr)
	}
	return info.Segs_in
}

// Bytes that the client sends after the server's stream end has been
// written, and that arrive before the close, make the close answer with a
// reset: the stream's end must have left already, not wait in the socket
// for the FIN and be dropped with it.
func TestStreamEndSurvivesBytesArrivingBeforeClose(t *testing.T) {
	server, client := testkit.TCPPair(t)
	tr := newTCPTransport(server, "127.0.0.1", 0)
	tr.EndNegotiation()
	if err := tr.WriteStreamClose(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("<message>sent too late")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); unreadBytes(t, server) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the client's bytes did not arrive")
		}
		time.Sleep(time.Millisecond)
	}
	tr.Close()
	got := make([]byte, len(streamEnd))
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != streamEnd {
		t.Fatalf("the client read %q, %v; want the stream's end", got, err)
	}
}
