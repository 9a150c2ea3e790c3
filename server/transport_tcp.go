package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// tcpTransport is XMPP over TCP (RFC 6120): the stream is the connection's
// bytes, plain or, after STARTTLS, inside TLS. Negotiation's answers are
// coalesced (countConn) into one write per round trip.
type tcpTransport struct {
	raw net.Conn
	ip  string
	cc  *countConn // the outermost counting layer (plaintext)
	tcp *countConn // the one on the TCP connection (cc without TLS)
	// tlsDrained: Buffered found TLS holding no bytes (transport_tcp_idle).
	tlsDrained bool
	under      *tlsUnder // under TLS: what crypto/tls writes to (tls_close)
	park       parkState // an idle session's place in the server's epoll set
}

func newTCPTransport(raw net.Conn, ip string, limit int64) *tcpTransport {
	cc := newCountConn(raw, limit)
	cc.coalesce()
	return &tcpTransport{raw: raw, ip: ip, cc: cc, tcp: cc}
}

func (t *tcpTransport) StreamReader() io.Reader { return t.cc }
func (t *tcpTransport) ResetCount()             { t.cc.reset() }
func (t *tcpTransport) Exceeded() bool          { return t.cc.exceeded() }

// WaitReadable waits for the client; under TLS, after Buffered found TLS
// holding nothing, for the socket first (see Buffered).
func (t *tcpTransport) WaitReadable() error {
	t.WaitSocket()
	return t.cc.waitReadable()
}

// WaitSocket is the first half of WaitReadable under TLS, when Buffered
// found TLS holding nothing: the wait for the TCP socket. The read through
// TLS is the next WaitReadable's.
func (t *tcpTransport) WaitSocket() bool {
	if !t.tlsDrained {
		return false
	}
	t.tlsDrained = false
	t.waitSocket()
	return true
}

func (t *tcpTransport) RestartStream() { t.cc.reset() }

// DoneReading gives both layers' read buffers back.
func (t *tcpTransport) DoneReading() {
	t.cc.doneReading()
	if t.tcp != t.cc {
		t.tcp.doneReading()
	}
}

// WriteStreamOpen appends the header and features straight to what
// coalescing holds back: no buffer of its own.
func (t *tcpTransport) WriteStreamOpen(from, to, features string) error {
	c := t.cc
	if !c.coalescing {
		b := appendStreamHeader(make([]byte, 0, 256+len(features)), from, to)
		_, err := c.Write(append(b, features...))
		return err
	}
	if c.out == nil {
		c.out = make([]byte, 0, 1024) // a stream header and its features
	}
	c.out = append(appendStreamHeader(c.out, from, to), features...)
	if len(c.out) >= maxCoalesced {
		return c.flush()
	}
	return nil
}

func (t *tcpTransport) Write(p []byte) (int, error) { return t.cc.Write(p) }

func (t *tcpTransport) WriteString(s string) (int, error) {
	c := t.cc
	if !c.coalescing {
		return io.WriteString(c.Conn, s)
	}
	if c.out == nil {
		c.out = make([]byte, 0, 1024)
	}
	c.out = append(c.out, s...)
	if len(c.out) >= maxCoalesced {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	return len(s), nil
}

// batchBufPool holds the buffers batches of stanzas are joined in, so that a
// batch is one write (one TLS record) and an idle session holds none.
var batchBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// WriteElements joins the batch into one write; a batch of one is written
// as it is.
func (t *tcpTransport) WriteElements(batch [][]byte) error {
	if len(batch) == 1 {
		_, err := t.cc.Write(batch[0])
		return err
	}
	bp := batchBufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for _, b := range batch {
		buf = append(buf, b...)
	}
	_, err := t.cc.Write(buf)
	if cap(buf) <= maxWrite {
		*bp = buf
		batchBufPool.Put(bp)
	}
	return err
}

// errNoTryWrite: TryWrite cannot write without waiting on this connection.
var errNoTryWrite = errors.New("server: no write without waiting here")

// TryWrite writes what the socket takes of p now, without waiting and
// without a deadline (it never blocks): n < len(p) leaves the rest for a
// write that waits. Plaintext TCP after negotiation only: crypto/tls
// cannot write part of a record and come back later.
func (t *tcpTransport) TryWrite(p []byte) (int, error) {
	sc, ok := t.raw.(syscall.Conn)
	if !ok || t.cc != t.tcp || t.cc.coalescing {
		return 0, errNoTryWrite
	}
	return tryWrite(sc, p)
}

// WriteStreamClose is the last write before Close: on plaintext TCP after
// negotiation, its bytes go in the FIN's segment (writeLast).
func (t *tcpTransport) WriteStreamClose() error {
	if tc, ok := t.cc.Conn.(*tls.Conn); ok && !t.cc.coalescing {
		return t.endTLS(tc, streamEnd) // with close_notify, in one write
	}
	if !t.cc.coalescing {
		return t.cc.writeLast([]byte(streamEnd))
	}
	_, err := t.WriteString(streamEnd)
	return err
}

func (t *tcpTransport) WriteStreamError(cond, text string) error {
	_, err := t.cc.Write(streamErrorBytes(cond, text))
	return err
}

// EndNegotiation writes what is held back, outer layer first: under TLS its
// flush writes into the TCP one.
func (t *tcpTransport) EndNegotiation() error {
	err := t.cc.endCoalescing()
	if ferr := t.tcp.endCoalescing(); err == nil {
		err = ferr
	}
	return err
}

func (t *tcpTransport) Secure() bool {
	return t.cc != t.tcp && t.cc.ConnectionState().HandshakeComplete
}

func (t *tcpTransport) CanStartTLS() bool { return t.cc == t.tcp }

// StartTLS runs the handshake over the TCP layer; the TLS connection gets a
// counting layer of its own (the limit counts plaintext), the TCP one stays.
// The handshake's first read sends what is held back (<proceed/>).
func (t *tcpTransport) StartTLS(ctx context.Context, conf *tls.Config) error {
	t.under = &tlsUnder{countConn: t.tcp}
	tc := tls.Server(t.under, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return &tlsError{err}
	}
	t.cc = newCountConn(tc, t.tcp.limit)
	t.cc.coalesce()
	return nil
}

func (t *tcpTransport) RemoteIP() string                   { return t.ip }
func (t *tcpTransport) SetDeadline(d time.Time) error      { return t.raw.SetDeadline(d) }
func (t *tcpTransport) SetWriteDeadline(d time.Time) error { return t.raw.SetWriteDeadline(d) }

// Close and Abort take the socket out of the epoll set first, waking a
// session parked there.
func (t *tcpTransport) Close() error {
	t.park.closing()
	return t.cc.Close()
}

func (t *tcpTransport) Abort() error {
	t.park.closing()
	return t.raw.Close()
}

// streamEnd ends the server's stream.
const streamEnd = "</stream:stream>"

func (t *tcpTransport) CheckStreamStart() error { return t.cc.checkStreamStart() }
func (t *tcpTransport) StanzaDone()             { t.cc.stanzaDone() }
func (t *tcpTransport) StanzaTimedOut() bool    { return t.cc.stanzaTimedOut() }

func (t *tcpTransport) SetStanzaTimeout(d time.Duration) {
	t.cc.stanzaTimeout = d
	t.cc.started = false // negotiation's bytes start no stanza
}
