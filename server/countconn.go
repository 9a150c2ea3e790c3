package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/xtokend/xtokend/internal/lastwrite"
	"github.com/xtokend/xtokend/internal/sockread"
)

// errStanzaTooLarge is what the XML decoder sees once a stanza is over
// general.max_stanza_size; the connection then gets a policy-violation.
var errStanzaTooLarge = errors.New("server: stanza over max_stanza_size")

// countConn is a net.Conn that counts the bytes the XML decoder takes from it
// and refuses to hand over more than limit between two resets. It lends the
// decoder its own buffer (Peek, Discard: an xmltok.Source), so the decoder
// keeps no buffer of its own: the count is the bytes actually decoded, not
// what a read-ahead buffer happened to pull in, and an oversized stanza is
// stopped as it arrives instead of after it has been buffered whole.
//
// One wraps the TCP connection; after STARTTLS another wraps the TLS
// connection, so the limit counts plaintext. The TLS layer reads the inner
// one with Read, which is not limited.
//
// An idle session costs little here: the read buffer comes from a pool when
// bytes arrive and goes back once it is empty, and waitReadable lets the read
// loop block on a shallow stack (see there).
type countConn struct {
	net.Conn
	buf      *[]byte // from readBufPool; nil while nothing is buffered
	r, w     int     // unread bytes are (*buf)[r:w]
	n, limit int64

	// The stanza deadline (stanza_timeout.go): started is set once a byte
	// other than whitespace is decoded after the last stanza, armed while
	// the read deadline is set for it.
	stanzaTimeout            time.Duration
	started, armed, timedOut bool
	over                     bool // beside the flags above: a struct of 96 bytes, not 104

	// While coalescing (negotiation), Write appends to out, which goes to
	// the connection in one write just before the next read from it: every
	// server answer in negotiation is followed by a read of the client's
	// next step, so that is one write per round trip instead of one per
	// element (with TLS, one record). Only the negotiating goroutine uses
	// the connection then; endCoalescing is called before anyone else may.
	coalescing bool
	out        []byte
}

// maxCoalesced bounds what coalescing holds back; more is written at once.
const maxCoalesced = 16 << 10

// readBufPool holds the 4 KB read buffers of connections that have bytes to
// decode; idle ones hold none.
var readBufPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

func newCountConn(c net.Conn, limit int64) *countConn {
	return &countConn{Conn: c, limit: limit}
}

// ReadByte reads one byte, counted as Discard counts.
func (c *countConn) ReadByte() (byte, error) {
	if c.limit > 0 && c.n >= c.limit {
		c.over = true
		return 0, errStanzaTooLarge
	}
	if c.r == c.w {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	b := (*c.buf)[c.r]
	c.r++
	c.n++
	if !c.started && b != ' ' && b != '\n' && b != '\t' && b != '\r' {
		c.started = true
	}
	return b, nil
}

// Peek lends the XML decoder (internal/xmltok) the bytes buffered, reading
// when there are none: never more than the limit leaves, and once it
// leaves none, errStanzaTooLarge, as ReadByte would fail the next byte.
func (c *countConn) Peek() ([]byte, error) {
	if c.limit > 0 && c.n >= c.limit {
		c.over = true
		return nil, errStanzaTooLarge
	}
	if c.r == c.w {
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
	w := (*c.buf)[c.r:c.w]
	if c.limit > 0 && int64(len(w)) > c.limit-c.n {
		w = w[:c.limit-c.n]
	}
	return w, nil
}

// Discard takes the first n bytes Peek lent: the decoder decoded them.
// They count, as ReadByte's do, and start the stanza deadline unless they
// are all white space.
func (c *countConn) Discard(n int) {
	if !c.started {
		for _, b := range (*c.buf)[c.r : c.r+n] {
			if b != ' ' && b != '\n' && b != '\t' && b != '\r' {
				c.started = true
				break
			}
		}
	}
	c.r += n
	c.n += int64(n)
}

// fill reads what the connection has into the (pooled) buffer.
func (c *countConn) fill() error {
	if err := c.flush(); err != nil {
		return err
	}
	if c.buf == nil {
		c.buf = readBufPool.Get().(*[]byte)
	}
	if c.started && c.stanzaTimeout > 0 && !c.armed {
		c.armStanzaDeadline()
	}
	n, err := c.Conn.Read(*c.buf)
	if err != nil && c.armed {
		c.noteStanzaTimeout(err)
	}
	c.r, c.w = 0, n
	if n > 0 {
		return nil
	}
	c.release()
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// release gives the read buffer back once everything in it was read.
func (c *countConn) release() {
	if c.buf != nil && c.r == c.w {
		readBufPool.Put(c.buf)
		c.buf, c.r, c.w = nil, 0, 0
	}
}

// doneReading gives the read buffer back for good, whatever is left in it.
// Only the goroutine that reads may call it, after its last read: otherwise
// every connection that ends with bytes buffered (its last read held the
// client's stream end) would leave its buffer to the garbage collector, a
// fresh 4 KB for the pool per login.
func (c *countConn) doneReading() {
	if c.buf != nil {
		readBufPool.Put(c.buf)
		c.buf, c.r, c.w = nil, 0, 0
	}
}

// unreadRoom is what waitReadable leaves free at the start of the read
// buffer, for unread: a replayed header is at most that long.
const unreadRoom = maxReplayHeader

// errUnreadRoom: what unread puts back does not fit the read buffer (a bug:
// only a replayed header, at most maxReplayHeader, is put back, ahead of
// what waitReadable read after unreadRoom).
var errUnreadRoom = errors.New("server: no room to put bytes back in the read buffer")

// unread puts s ahead of the bytes not read yet: a replayed stream header
// (streamReader.wake). The caller resets the count once it is read.
func (c *countConn) unread(s string) error {
	if c.buf == nil {
		c.buf = readBufPool.Get().(*[]byte)
		c.r, c.w = 0, 0
	}
	buf := *c.buf
	switch {
	case c.r >= len(s):
		c.r -= len(s)
	case c.w-c.r+len(s) <= len(buf):
		copy(buf[len(s):], buf[c.r:c.w])
		c.r, c.w = 0, len(s)+c.w-c.r
	default:
		return errUnreadRoom
	}
	copy(buf[c.r:], s)
	return nil
}

// Read serves the TLS layer above (and anything else): not counted. Under
// TLS the inner layer never keeps a buffer: tls.Conn reads whole records.
func (c *countConn) Read(p []byte) (int, error) {
	if c.r < c.w {
		n := copy(p, (*c.buf)[c.r:c.w])
		c.r += n
		c.release()
		return n, nil
	}
	c.release()
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// waitReadable blocks until the client sends something. The read loop calls
// it between stanzas, so that an idle session waits here, holding no read
// buffer and on a shallow stack, rather than deep inside the XML decoder. On
// a TCP socket it waits for the socket and takes a pooled buffer only once
// bytes are there (sockread); under TLS the transport waited for the socket
// already (tcpTransport.waitSocket), and the read that follows returns
// what came.
func (c *countConn) waitReadable() error {
	if c.r < c.w {
		return nil
	}
	c.release()
	if err := c.flush(); err != nil {
		return err
	}
	// The bytes go after room for a replayed stream header (unread), which
	// a session that let go of its decoder puts ahead of them.
	if sc, ok := c.Conn.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			n, err := sockread.Read(rc, &readBufPool, &c.buf, unreadRoom)
			if err != nil {
				c.release()
				var se *os.SyscallError
				if errors.As(err, &se) {
					err = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: se}
				}
				return err
			}
			c.r, c.w = unreadRoom, unreadRoom+n
			return nil
		}
	}
	c.buf = readBufPool.Get().(*[]byte)
	n, err := c.Conn.Read((*c.buf)[unreadRoom:])
	c.r, c.w = unreadRoom, unreadRoom+n
	if n > 0 {
		return nil
	}
	c.release()
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Write writes to the connection, or while coalescing, holds p back until
// the next read (or flush, endCoalescing, Close).
func (c *countConn) Write(p []byte) (int, error) {
	if !c.coalescing {
		return c.Conn.Write(p)
	}
	if c.out == nil {
		c.out = make([]byte, 0, 1024) // a stream header and its features
	}
	c.out = append(c.out, p...)
	if len(c.out) >= maxCoalesced {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush writes what coalescing held back. An error is the write's, under
// the connection's write deadline.
func (c *countConn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.out)
	c.out = c.out[:0]
	return err
}

// coalesce starts holding writes back until the next read.
func (c *countConn) coalesce() { c.coalescing = true }

// endCoalescing writes what is held back and makes Write direct again, so
// that another goroutine may write (the session's writer).
func (c *countConn) endCoalescing() error {
	err := c.flush()
	c.coalescing, c.out = false, nil
	return err
}

// Close sends what coalescing held back (a stream error, say) first.
func (c *countConn) Close() error {
	c.flush()
	return c.Conn.Close()
}

// writeLast writes p, the last bytes before Close: on a socket, with the
// FIN in the same segment when it can (lastwrite).
func (c *countConn) writeLast(p []byte) error {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return lastwrite.Write(sc, p)
	}
	_, err := c.Conn.Write(p)
	return err
}

// reset starts counting a new stanza (or stream).
func (c *countConn) reset() { c.n = 0 }

// exceeded reports whether the limit stopped the decoder.
func (c *countConn) exceeded() bool { return c.over }

// ConnectionState lets the transport see the TLS state through the wrapper.
func (c *countConn) ConnectionState() tls.ConnectionState {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}
