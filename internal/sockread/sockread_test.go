package sockread

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

func rawConn(t *testing.T, c *net.TCPConn) syscall.RawConn {
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// Read waits for bytes, reads them into a buffer from the pool, and holds
// no buffer while it waits: one that times out has none.
func TestRead(t *testing.T) {
	pool := sync.Pool{New: func() any { b := make([]byte, 16); return &b }}
	s, c := testkit.TCPPair(t)
	rc := rawConn(t, s)

	go func() {
		time.Sleep(20 * time.Millisecond)
		c.Write([]byte("hello, a longer burst"))
	}()
	var buf *[]byte
	n, err := Read(rc, &pool, &buf, 0)
	if err != nil || buf == nil || string((*buf)[:n]) != "hello, a longer " {
		t.Fatalf("Read: %d, %v, %q", n, err, *buf)
	}
	first := buf
	n, err = Read(rc, &pool, &buf, 0) // the rest, into the buffer held
	if err != nil || string((*buf)[:n]) != "burst" {
		t.Fatalf("second Read: %d, %v", n, err)
	}
	if buf != first {
		t.Error("the second read took another buffer instead of the one held")
	}
	pool.Put(buf)
	buf = nil

	s.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := Read(rc, &pool, &buf, 0); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v", err)
	}
	if buf != nil {
		t.Fatal("a buffer is held after a wait with nothing to read")
	}
	s.SetReadDeadline(time.Time{})

	c.Close()
	if _, err := Read(rc, &pool, &buf, 0); err != io.EOF {
		t.Fatalf("Read at the end: %v, want io.EOF", err)
	}
}

// BenchmarkRead: a read of bytes that are there (a client that sent while
// the server was busy): the allocations per read.
func BenchmarkRead(b *testing.B) {
	pool := sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}
	s, c := testkit.TCPPair(b)
	rc, _ := s.SyscallConn()
	msg := []byte("<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>")
	var buf *[]byte
	b.ReportAllocs()
	for b.Loop() {
		c.Write(msg)
		if _, err := Read(rc, &pool, &buf, 0); err != nil {
			b.Fatal(err)
		}
	}
}
