package websocket

import (
	"net"
	"sync"
)

// ioBufPool holds the 4 KB buffers of connections with bytes in transit.
var ioBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

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

