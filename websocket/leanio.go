package websocket

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// The WebSocket library reads and writes through a *bufio.Reader and a
// *bufio.Writer that it takes from the hijacked connection. net/http's are
// 4 KB each and stay with the connection for its life: 8 KB per idle
// session. leanResponseWriter hands the library 16-byte ones instead, over a
// reader and a writer that hold a buffer only while bytes are passing
// through, so an idle session holds neither.

// leanBufSize is the smallest size bufio accepts.
const leanBufSize = 16

// ioBufPool holds the 4 KB buffers of connections with bytes in transit.
var ioBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// leanResponseWriter is the http.ResponseWriter given to the library's
// Accept: its Hijack returns the lean reader and writer.
type leanResponseWriter struct {
	http.ResponseWriter
	conn net.Conn
	in   *idleReader
	out  *corkWriter
}

func (w *leanResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	w.conn = conn
	w.in = &idleReader{conn: conn}
	if n := brw.Reader.Buffered(); n > 0 {
		// The client's first frames came with the handshake.
		b, _ := brw.Reader.Peek(n)
		w.in.early = append([]byte(nil), b...)
	}
	w.out = &corkWriter{conn: conn}
	// The library resets the returned reader onto the returned conn (and
	// only what that reader buffered), so the conn must read through in:
	// else bytes that came with the handshake (early) are lost.
	return &leanConn{Conn: conn, in: w.in}, bufio.NewReadWriter(bufio.NewReaderSize(w.in, leanBufSize), bufio.NewWriterSize(w.out, leanBufSize)), nil
}

// leanConn is the hijacked connection as the library reads it: through the
// idleReader, which serves the bytes read with the handshake first.
type leanConn struct {
	net.Conn
	in *idleReader
}

func (c *leanConn) Read(p []byte) (int, error) { return c.in.Read(p) }

// idleReader reads the connection. While waiting for bytes it reads into a
// small array of its own; a read that fills that array (a burst) makes the
// next one read into a pooled buffer, which goes back once it is drained.
// Reads as large as the pooled buffer go straight to the caller's slice.
// Only the reading goroutine uses it.
type idleReader struct {
	conn  net.Conn
	early []byte  // bytes read with the handshake, served first
	buf   *[]byte // pooled, or nil
	small [256]byte
	data  []byte // unread bytes: in early, small or *buf
	burst bool   // the last read filled its buffer
}

func (r *idleReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 && r.early != nil {
		r.data, r.early = r.early, nil
	}
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		if len(r.data) == 0 {
			r.release()
		}
		return n, nil
	}
	if len(p) >= 4096 {
		return r.conn.Read(p)
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
	k := copy(p, r.data)
	r.data = r.data[k:]
	if len(r.data) == 0 {
		r.release()
	}
	return k, nil // an error comes again with the next read
}

func (r *idleReader) release() {
	r.data = nil
	if r.buf != nil {
		ioBufPool.Put(r.buf)
		r.buf = nil
	}
}

// corkWriter writes to the connection. While corked it collects what the
// library writes (whole frames: the library flushes its writer at the end of
// each) in a pooled buffer, and uncork sends it in one write, so that a
// message, or a batch of them, is one TCP segment or TLS record rather than
// a 16-byte write and then the rest. Uncorked (the library's pongs and
// pings), writes go straight through.
//
// Held (hold), it stays corked until the library's next write, which goes
// out with what was held back: the server's <close/> and the close frame
// that Close then writes are one write, not two.
type corkWriter struct {
	conn   net.Conn
	mu     sync.Mutex
	corked bool
	held   bool // uncork after the next write
	buf    *[]byte
}

func (w *corkWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.corked {
		return w.conn.Write(p)
	}
	if w.buf == nil {
		w.buf = ioBufPool.Get().(*[]byte)
	}
	*w.buf = append(*w.buf, p...)
	if w.held {
		if err := w.uncorkLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// hold keeps what is corked for the next write.
func (w *corkWriter) hold() {
	w.mu.Lock()
	w.held = w.corked
	w.mu.Unlock()
}

func (w *corkWriter) cork() {
	w.mu.Lock()
	w.corked = true
	w.mu.Unlock()
}

// buffered is how many bytes are held back.
func (w *corkWriter) buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf == nil {
		return 0
	}
	return len(*w.buf)
}

// uncork writes what was held back, under the connection's write deadline,
// and lets writes through again.
func (w *corkWriter) uncork() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.uncorkLocked()
}

func (w *corkWriter) uncorkLocked() error {
	w.corked, w.held = false, false
	if w.buf == nil {
		return nil
	}
	_, err := w.conn.Write(*w.buf)
	if cap(*w.buf) <= 64<<10 {
		*w.buf = (*w.buf)[:0]
		ioBufPool.Put(w.buf)
	}
	w.buf = nil
	return err
}
