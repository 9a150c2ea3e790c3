package websocket

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"
)

// pollSocket waits (at most 5 s) for rc's socket as an epoll set would,
// below Go's poller, and returns the events.
func pollSocket(t *testing.T, rc syscall.RawConn) int16 {
	t.Helper()
	var fd int
	if err := rc.Control(func(d uintptr) { fd = int(d) }); err != nil {
		t.Fatal(err)
	}
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}}
	for {
		n, err := unix.Poll(p, 5000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			t.Fatalf("poll: %d, %v: the socket never became readable", n, err)
		}
		return p[0].Revents
	}
}

// TestReadWoken: a waiter outside the Conn gets the socket once nothing is
// read ahead; woken by a ping frame it finds no message (and the pong is
// sent), woken by a message it finds it; with bytes read ahead there is no
// socket to wait for.
func TestReadWoken(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	client, c := f.accept(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go client.Read(ctx) // the client's library reads the pong while it reads

	rc := c.IdleSocket()
	if rc == nil {
		t.Fatal("no socket to wait for on an idle plain TCP connection")
	}
	pinged := make(chan error, 1)
	go func() { pinged <- client.Ping(ctx) }()
	pollSocket(t, rc)
	if ready, err := c.ReadWoken(); ready || err != nil {
		t.Fatalf("woken by a ping frame: ready %v, %v; want neither", ready, err)
	}
	if err := <-pinged; err != nil {
		t.Fatalf("the client's ping was not answered: %v", err)
	}

	// Two messages in one write: the first is ready, the second read ahead.
	if err := client.Write(ctx, websocket.MessageText, []byte(openMsg)); err != nil {
		t.Fatal(err)
	}
	if err := client.Write(ctx, websocket.MessageText, []byte(closeMsgS)); err != nil {
		t.Fatal(err)
	}
	pollSocket(t, c.IdleSocket())
	if ready, err := c.ReadWoken(); !ready || err != nil {
		t.Fatalf("woken by a message: ready %v, %v", ready, err)
	}
	if c.IdleSocket() != nil {
		t.Fatal("a socket to wait for while a message is pending")
	}
	if got, err := chunk(c); err != nil || got != header {
		t.Fatalf("got %q, %v; want the stream header", got, err)
	}
}

// TestKeepaliveWakesASocketWaiter: a client that answers no ping is
// dropped with the socket shut down, not closed, so that a waiter on the
// socket outside the Conn (a server's epoll set, from which a closed socket
// leaves silently) is woken and its read names the ping.
func TestKeepaliveWakesASocketWaiter(t *testing.T) {
	f := newKeepaliveFixture(t)
	_, c := f.accept(t) // the client never reads, so never answers a ping
	rc := c.IdleSocket()
	if rc == nil {
		t.Fatal("no socket to wait for")
	}
	if ev := pollSocket(t, rc); ev&unix.POLLNVAL != 0 || ev&(unix.POLLIN|unix.POLLRDHUP|unix.POLLHUP) == 0 {
		t.Fatalf("poll events %#x: want the socket readable (shut down), not closed", ev)
	}
	_, err := c.ReadWoken()
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("ReadWoken: %v; want a timeout naming the ping", err)
	}
}
