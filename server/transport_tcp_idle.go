package server

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// Waiting idle under TLS.
//
// An idle session waits for its next stanza parked on the server's epoll set
// (parker), or, when it cannot, in a fresh goroutine with a 2 KB stack
// (session.readOn). A wait inside tls.Conn.Read runs through frames deep
// enough to grow that stack to 4 KB, so under TLS the session parks, or the
// fresh goroutine waits, on the TCP socket instead (holding nothing), and
// reads through TLS once bytes came. That is only right when TLS holds no
// decrypted or undecrypted bytes of its own, which Buffered finds out before
// the wait is handed on: a TLS read with a read deadline already passed
// returns what TLS holds, or times out before touching the socket (a
// timeout leaves crypto/tls's reading side usable). Between stanzas the read
// deadline is clear (the stanza deadline is disarmed), so it is cleared again.

// Buffered reports whether the stream has bytes the decoder has not taken.
// Only the reading goroutine calls it, between stanzas.
func (t *tcpTransport) Buffered() bool {
	c := t.cc
	if c.r < c.w {
		return true
	}
	c.release() // the wait that follows holds no read buffer
	if c == t.tcp {
		return false
	}
	c.buf = readBufPool.Get().(*[]byte)
	t.raw.SetReadDeadline(time.Unix(1, 0))
	n, err := c.Conn.Read(*c.buf)
	t.raw.SetReadDeadline(time.Time{})
	c.r, c.w = 0, n
	if n > 0 {
		return true
	}
	c.release()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return true // the error comes again with the next read
	}
	t.tlsDrained = true
	return false
}

// waitSocket waits until the TCP socket has bytes (or an end) to read. An
// error is left to the read that follows.
func (t *tcpTransport) waitSocket() {
	sc, ok := t.raw.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	var b [1]byte
	rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
}

// Park puts the idle session's socket in the server's epoll set, with wake
// (a read that waits for the client, then the read loop) to run on the pool
// once it is readable; false when the session must wait in a goroutine:
// no parker, a connection closing, or TLS holding bytes of its own.
func (t *tcpTransport) Park(wake job) bool {
	if t.cc != t.tcp && !t.tlsDrained {
		return false
	}
	if t.park.p == nil {
		return false
	}
	if !t.park.fdKnown {
		sc, ok := t.raw.(syscall.Conn)
		if !ok {
			return false
		}
		rc, err := sc.SyscallConn()
		if err != nil || !t.park.learnFD(rc) {
			return false
		}
	}
	return t.park.park(wake)
}
