package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// DefaultWriteTimeout bounds a write that has neither a context deadline nor
// a deadline set with SetWriteDeadline.
const DefaultWriteTimeout = 10 * time.Second

// closeWait bounds the closing handshake: how long Close waits for the
// client's close frame.
const closeWait = 3 * time.Second

// streamEnd is what <close/> stands for in the stream the server reads.
var streamEnd = []byte("</stream:stream>")

// Conn is one client's WebSocket, presented to an XMPP server as the byte
// stream of RFC 6120 on the read side (Read, ReadByte) and as whole elements
// on the write side. Read and ReadByte are for one goroutine; the write
// methods and Close may be called from others.
type Conn struct {
	ws       *websocket.Conn
	netConn  net.Conn
	out      *corkWriter
	remoteIP string
	secure   bool
	maxSize  int

	// Read side, owned by the reading goroutine.
	pending []byte  // what the stream reader has yet to take
	msg     *[]byte // the pooled buffer pending points into, or nil
	opened  bool    // an <open/> was read
	rerr    error   // sticky: the stream is over
	lastMsg atomic.Int64

	// Write side.
	wmu       sync.Mutex
	wdeadline time.Time
	wfailed   bool // a write failed: Close skips the closing handshake
	wclosed   bool // Close was called

	keepalive    *time.Timer
	pingInterval time.Duration
	pingTimeout  time.Duration
	pingFailed   atomic.Bool
	closing      atomic.Bool
}

// Secure reports whether the client's connection is encrypted: the listener
// has tls on, or a trusted proxy said X-Forwarded-Proto: https.
func (c *Conn) Secure() bool { return c.secure }

// RemoteIP is the client's address: the peer's, or through a trusted proxy
// the right-most address in X-Forwarded-For that is not a trusted proxy.
func (c *Conn) RemoteIP() string { return c.remoteIP }

// SetReadDeadline sets the deadline of Read, ReadByte and WaitReadable (the
// negotiation deadline, say). A read that times out leaves the connection
// open, so that the server can still send a stream error.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.netConn.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline of the write methods that take no
// context, and bounds those that do.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	c.wdeadline = t
	c.wmu.Unlock()
	return nil
}

// Read reads the synthetic XML stream: a stream header for each <open/>, each
// other message's element as it came, </stream:stream> for <close/>. A
// message that is not allowed ends the stream with a *FramingError; the
// client's closing the WebSocket normally ends it with io.EOF.
func (c *Conn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.pending)
	c.consumed(n)
	return n, nil
}

// ReadByte makes Conn an io.ByteReader, so that encoding/xml reads it without
// a bufio.Reader of its own (4 KB per session).
func (c *Conn) ReadByte() (byte, error) {
	for len(c.pending) == 0 {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	b := c.pending[0]
	c.consumed(1)
	return b, nil
}

// WaitReadable blocks until the next message has arrived and been checked.
// A server calls it between stanzas, so that an idle session waits on a
// shallow stack holding no buffer, rather than inside its XML decoder.
func (c *Conn) WaitReadable() error {
	for len(c.pending) == 0 {
		if err := c.next(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Conn) consumed(n int) {
	c.pending = c.pending[n:]
	if len(c.pending) == 0 {
		c.releaseMsg()
	}
}

func (c *Conn) releaseMsg() {
	c.pending = nil
	if c.msg != nil {
		if cap(*c.msg) <= 64<<10 {
			*c.msg = (*c.msg)[:0]
			ioBufPool.Put(c.msg)
		}
		c.msg = nil
	}
}

// next reads the next message into pending.
func (c *Conn) next() error {
	if c.rerr != nil {
		return c.rerr
	}
	c.releaseMsg()
	b, err := c.readMessage()
	if err != nil {
		c.releaseMsg()
		c.rerr = err
		return err
	}
	c.lastMsg.Store(time.Now().UnixNano())
	var m message
	if ferr := scanMessage(b, &m); ferr != nil {
		c.releaseMsg()
		c.rerr = ferr
		return ferr
	}
	switch m.kind {
	case kindOpen:
		c.opened = true
		out := appendHeader(b, b, &m)
		*c.msg = out
		c.pending = out[len(b):]
	case kindClose:
		c.releaseMsg()
		c.pending = streamEnd
	default:
		if !c.opened {
			c.releaseMsg()
			c.rerr = &FramingError{Condition: CondInvalidNamespace, Text: "the first message must be <open xmlns='" + NSFraming + "'/>"}
			return c.rerr
		}
		c.pending = b[m.start:m.end]
	}
	return nil
}

// readMessage reads one whole message (at most maxSize bytes) into a pooled
// buffer.
func (c *Conn) readMessage() ([]byte, error) {
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return nil, c.readError(err)
	}
	if typ != websocket.MessageText {
		return nil, notWellFormed("a binary message: XMPP over WebSocket uses text messages")
	}
	c.msg = ioBufPool.Get().(*[]byte)
	b := (*c.msg)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):min(cap(b), c.maxSize+1)])
		b = b[:len(b)+n]
		*c.msg = b
		if len(b) > c.maxSize {
			return nil, &FramingError{Condition: CondPolicyViolation, Text: fmt.Sprintf("a message over max_stanza_size (%d bytes)", c.maxSize)}
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, c.readError(err)
		}
	}
}

// readError maps the library's read errors: a normal closure is io.EOF, a
// client that did not answer a ping a timeout.
func (c *Conn) readError(err error) error {
	if c.pingFailed.Load() {
		return fmt.Errorf("websocket: no answer to a ping within %v: %w", c.pingTimeout, os.ErrDeadlineExceeded)
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusNoStatusRcvd:
		return io.EOF
	}
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return fmt.Errorf("websocket: read: %w", err)
}

// WriteOpen sends the server's <open/> (RFC 7395 section 3.4); empty
// attributes are left out.
func (c *Conn) WriteOpen(from, id, lang, version string) error {
	return c.send(context.Background(), false, AppendOpen(make([]byte, 0, 160), from, id, lang, version))
}

// AppendOpen appends the <open/> that WriteOpen sends, for a server that
// sends it in one batch with what follows (WriteElements).
func AppendOpen(b []byte, from, id, lang, version string) []byte {
	b = append(b, `<open xmlns="`+NSFraming+`"`...)
	b = appendAttr(b, "from", from)
	b = appendAttr(b, "id", id)
	b = appendAttr(b, "version", version)
	b = appendAttr(b, "xml:lang", lang)
	return append(b, "/>"...)
}

var closeMessage = []byte(`<close xmlns="` + NSFraming + `"/>`)

// WriteClose sends <close/> (RFC 7395 section 3.6). Close then closes the
// WebSocket: the message goes out with Close's close frame, in one write
// (or with whatever the connection writes first).
func (c *Conn) WriteClose() error {
	return c.send(context.Background(), true, closeMessage)
}

// WriteStreamError sends a stream error of condition (RFC 6120 section
// 4.9.3), with text if it is not empty, then <close/>; like WriteClose's,
// they go out with Close's close frame.
func (c *Conn) WriteStreamError(condition, text string) error {
	b := make([]byte, 0, 256)
	b = append(b, `<stream:error xmlns:stream="`+NSStream+`"><`...)
	b = append(b, condition...)
	b = append(b, ` xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>`...)
	if text != "" {
		b = append(b, `<text xmlns="urn:ietf:params:xml:ns:xmpp-streams">`...)
		b = appendEscaped(b, text)
		b = append(b, "</text>"...)
	}
	b = append(b, "</stream:error>"...)
	return c.send(context.Background(), true, b, closeMessage)
}

// WriteElement sends one element (exactly one: b is sent as it is) as one
// text message, whatever its size,
// made standalone (RFC 7395 section 3.3.3): a top-level stanza without a
// namespace gets xmlns="jabber:client", a stream:features or stream:error
// the stream prefix's declaration.
func (c *Conn) WriteElement(ctx context.Context, b []byte) error {
	return c.send(ctx, false, b)
}

// WriteElements sends elements, each as WriteElement does, in as few writes
// to the connection as their size allows.
func (c *Conn) WriteElements(ctx context.Context, elems [][]byte) error {
	return c.send(ctx, false, elems...)
}

// maxBatch is how much a batch holds back before writing.
const maxBatch = 64 << 10

// send writes each of msgs as a text message: corked, so that a message (or
// several small ones) is one write to the connection. With hold (the end of
// the stream) the last of them wait for the connection's next write, under
// the same deadline: the close frame that Close writes.
func (c *Conn) send(ctx context.Context, hold bool, msgs ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch {
	case c.wclosed:
		return fmt.Errorf("websocket: write: %w", net.ErrClosed)
	case c.wfailed:
		return errors.New("websocket: write: an earlier write failed")
	}
	deadline := c.wdeadline
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	if deadline.IsZero() {
		deadline = time.Now().Add(DefaultWriteTimeout)
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.netConn.SetWriteDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	var scratch *[]byte
	defer func() {
		if scratch != nil {
			*scratch = (*scratch)[:0]
			ioBufPool.Put(scratch)
		}
	}()
	c.out.cork()
	err := func() error {
		for _, m := range msgs {
			if len(bytes.TrimLeft(m, " \t\r\n")) == 0 {
				continue // whitespace keepalives: WebSocket pings do that job
			}
			if at, attr := standaloneAttr(m); attr != "" {
				if scratch == nil {
					scratch = ioBufPool.Get().(*[]byte)
				}
				s := append((*scratch)[:0], m[:at]...)
				s = append(s, attr...)
				s = append(s, m[at:]...)
				*scratch, m = s, s
			}
			if err := c.ws.Write(context.Background(), websocket.MessageText, m); err != nil {
				return err
			}
			if c.out.buffered() >= maxBatch {
				if err := c.flush(deadline); err != nil {
					return err
				}
				c.out.cork()
			}
		}
		if hold {
			c.netConn.SetWriteDeadline(deadline)
			c.out.hold()
			return nil
		}
		return c.flush(deadline)
	}()
	if err != nil {
		c.out.uncork()
		c.wfailed = true
		c.netConn.SetWriteDeadline(time.Unix(1, 0))
		return fmt.Errorf("websocket: write: %w", err)
	}
	return nil
}

// flush writes what is corked under deadline, and clears the deadline for
// the library's own writes (pongs) that come uncorked.
func (c *Conn) flush(deadline time.Time) error {
	c.netConn.SetWriteDeadline(deadline)
	err := c.out.uncork()
	c.netConn.SetWriteDeadline(time.Time{})
	return err
}

// Close closes the WebSocket with status 1000 (normal closure), waiting a
// little for the client's close frame; after a failed write, at once.
// Call it after WriteClose or WriteStreamError.
func (c *Conn) Close() error {
	if c.closing.Swap(true) {
		return nil
	}
	if c.keepalive != nil {
		c.keepalive.Stop()
	}
	c.wmu.Lock()
	failed := c.wfailed
	c.wclosed = true
	c.wmu.Unlock()
	if failed {
		return c.ws.CloseNow()
	}
	c.netConn.SetReadDeadline(time.Now().Add(closeWait))
	if err := c.ws.Close(websocket.StatusNormalClosure, ""); err != nil && !errors.Is(err, net.ErrClosed) {
		c.ws.CloseNow()
		return fmt.Errorf("websocket: close: %w", err)
	}
	return nil
}

// startKeepalive pings the client every interval in which it sent nothing:
// proxies see traffic, and a client that does not answer within timeout is
// disconnected (its Read then fails). A timer, not a goroutine, waits.
func (c *Conn) startKeepalive(interval, timeout time.Duration) {
	if interval <= 0 {
		return
	}
	c.pingInterval, c.pingTimeout = interval, timeout
	c.lastMsg.Store(time.Now().UnixNano())
	c.keepalive = time.AfterFunc(interval, c.ping)
}

func (c *Conn) ping() {
	if c.closing.Load() {
		return
	}
	idle := time.Since(time.Unix(0, c.lastMsg.Load()))
	if idle < c.pingInterval {
		c.keepalive.Reset(c.pingInterval - idle)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.pingTimeout)
	err := c.ws.Ping(ctx)
	cancel()
	if err != nil {
		c.pingFailed.Store(true)
		c.ws.CloseNow() // a dead peer: the reader's next read fails
		return
	}
	c.lastMsg.Store(time.Now().UnixNano())
	c.keepalive.Reset(c.pingInterval)
}

func appendAttr(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, '=', '"')
	b = appendEscaped(b, value)
	return append(b, '"')
}

// appendEscaped escapes s for text and for a double-quoted attribute value.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\'':
			b = append(b, "&apos;"...)
		case '\t', '\n', '\r':
			b = append(b, "&#x"...)
			b = append(b, "0123456789ABCDEF"[c]) // 9, A, D
			b = append(b, ';')
		default:
			b = append(b, c)
		}
	}
	return b
}
