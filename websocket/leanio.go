package websocket

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/xtokend/xtokend/internal/sockread"
)

// ioBufPool holds the 4 KB buffers of connections with bytes in transit.
var ioBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// smallRead is the size of the array a connection without a raw socket
// (TLS) reads into while it waits.
const smallRead = 256

// idleReader reads the connection holding a buffer only while bytes are in
// transit. On a plain TCP socket it waits for the socket to be readable
// with no buffer at all (syscall.RawConn), then reads into a pooled buffer
// that goes back once it is drained. Other connections (TLS) wait in a
// read into a small array of their own; a read that fills that array (a
// burst) makes the next one read into a pooled buffer. Reads as large as
// the pooled buffer go straight to the caller's slice. Only the reading
// goroutine uses it (Conn's rmu).
type idleReader struct {
	conn  net.Conn
	raw   syscall.RawConn // the TCP socket's, or nil
	early []byte          // bytes read with the handshake, served first
	buf   *[]byte         // pooled, or nil
	small *[smallRead]byte
	data  []byte // unread bytes: in early, small or *buf
	burst bool   // the last read filled its buffer
}

func newIdleReader(conn net.Conn) *idleReader {
	r := &idleReader{conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		r.raw, _ = sc.SyscallConn()
	}
	return r
}

func (r *idleReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 && r.early != nil {
		r.data, r.early = r.early, nil
	}
	if len(r.data) > 0 {
		return r.take(p), nil
	}
	if len(p) >= 4096 {
		return r.conn.Read(p)
	}
	if r.raw != nil {
		if err := r.readRaw(); err != nil {
			return 0, err
		}
		return r.take(p), nil
	}
	if r.small == nil {
		r.small = new([smallRead]byte)
	}
	into := r.small[:]
	if r.burst {
		if r.buf == nil {
			r.buf = ioBufPool.Get().(*[]byte)
		}
		into = (*r.buf)[:cap(*r.buf)]
	}
	n, err := r.conn.Read(into)
	r.burst = n == len(into)
	if n == 0 {
		r.release()
		return 0, err
	}
	r.data = into[:n]
	return r.take(p), nil // an error comes again with the next read
}

// readRaw waits until the socket is readable (or the read deadline passes),
// then reads what is there into a pooled buffer.
func (r *idleReader) readRaw() error {
	n, err := sockread.Read(r.raw, &ioBufPool, &r.buf, 0)
	if err != nil {
		r.release()
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = &net.OpError{Op: "read", Net: "tcp", Source: r.conn.LocalAddr(), Addr: r.conn.RemoteAddr(), Err: se.Err}
		}
		return err
	}
	r.data = (*r.buf)[:n]
	return nil
}

// buffered reports whether bytes were read ahead and not taken yet.
func (r *idleReader) buffered() bool { return len(r.data) > 0 || r.early != nil }

// take copies buffered bytes to p, and gives the buffer back once it is
// drained.
func (r *idleReader) take(p []byte) int {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		r.release()
	}
	return n
}

func (r *idleReader) release() {
	r.data = nil
	if r.buf != nil {
		*r.buf = (*r.buf)[:0]
		ioBufPool.Put(r.buf)
		r.buf = nil
	}
}
