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
	netConn  net.Conn
	in       *idleReader
	remoteIP string
	secure   bool
	maxSize  int

	// Read side: the reading goroutine's, and Close's once it waits for
	// the client's close frame; rmu is held while frames are read.
	rmu       sync.Mutex
	pending   []byte  // what the stream reader has yet to take
	msg       *[]byte // the pooled buffer pending points into, or nil
	opened    bool    // an <open/> was read
	rerr      error   // sticky: the stream is over
	closeRcvd bool    // the client's close frame was read
	skip      int64   // payload bytes of a refused frame, not read: Close skips them
	lastMsg   atomic.Int64

	// Write side, under wmu.
	wmu       sync.Mutex
	out       *[]byte // frames not yet written (pooled), or nil
	wdeadline time.Time
	wfailed   bool // a write failed: Close skips the closing handshake
	wclosed   bool // Close was called
	closeSent bool // the close frame is written
	protoErr  atomic.Bool

	keepalive    *time.Timer
	pingInterval time.Duration
	pingTimeout  time.Duration
	pingSent     atomic.Int64 // when the unanswered ping went out (UnixNano), or 0
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

// Peek returns the bytes of the synthetic stream not read yet, those of the
// current message, reading the next message when none are left: a decoder
// that takes runs of bytes (the server's internal/xmltok) reads through
// Peek and Discard without a call per byte.
func (c *Conn) Peek() ([]byte, error) {
	for len(c.pending) == 0 {
		if err := c.next(); err != nil {
			return nil, err
		}
	}
	return c.pending, nil
}

// Discard takes the first n bytes Peek returned.
func (c *Conn) Discard(n int) { c.consumed(n) }

// WaitReadable blocks until the next message has arrived and been checked.
// A server calls it between stanzas, so that an idle session waits on a
// shallow stack holding no buffer, rather than inside its XML decoder: on a
// TCP socket it waits for the socket (waitIdle), and after control frames
// alone (a keepalive's pong) it goes back to that wait.
func (c *Conn) WaitReadable() error {
	for len(c.pending) == 0 {
		if err := c.waitIdle(); err != nil {
			return err
		}
		if err := c.next(); err != nil {
			return err
		}
	}
	return nil
}

// Buffered reports whether bytes of the stream wait to be read: the rest of
// a message, or the connection's next bytes, read ahead. When it reports
// none, a server may hand its session's wait to a fresh goroutine, whose
// WaitReadable keeps a 2 KB stack.
func (c *Conn) Buffered() bool {
	if len(c.pending) > 0 {
		return true
	}
	c.rmu.Lock() // Close may be reading the connection
	defer c.rmu.Unlock()
	return c.in.buffered()
}

// waitIdle waits until the TCP socket has bytes, when nothing is buffered,
// and reads them (idleReader.readRaw): no buffer is held meanwhile and the
// stack stays shallow. A connection without a raw socket (TLS) waits in
// next, deeper.
func (c *Conn) waitIdle() error {
	if c.rerr != nil {
		return nil // next reports it
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.closeRcvd || c.in.raw == nil || c.in.buffered() {
		return nil
	}
	if err := c.in.readRaw(); err != nil {
		c.rerr = c.readError(err)
		return c.rerr
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
	c.rmu.Lock()
	b, err := c.readMessage()
	c.rmu.Unlock()
	if err != nil {
		c.releaseMsg()
		c.rerr = err
		return err
	}
	if b == nil {
		return nil // control frames only, nothing after them yet
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
// buffer, unmasked, answering the control frames that come before or
// inside it. Control frames with nothing read after them and no message
// begun return nil and no error: the caller waits again (WaitReadable on a
// shallow stack, Read and ReadByte here).
func (c *Conn) readMessage() ([]byte, error) {
	if c.closeRcvd {
		return nil, io.EOF
	}
	var b []byte
	started := false
	for {
		h, err := readFrameHead(c.in)
		if err != nil {
			return nil, c.readError(err)
		}
		c.pingSent.Store(0) // the client is there
		switch h.op {
		case opClose, opPing, opPong:
			if err := c.control(h); err != nil {
				return nil, err
			}
			if c.closeRcvd {
				return nil, io.EOF
			}
			if !started && !c.in.buffered() {
				return nil, nil
			}
			continue
		case opText:
			if started {
				return nil, c.readError(&protocolError{"a new message inside a fragmented one"})
			}
			started = true
		case opBinary:
			c.skip = h.length
			return nil, notWellFormed("a binary message: XMPP over WebSocket uses text messages")
		case opContinuation:
			if !started {
				return nil, c.readError(&protocolError{"a continuation frame outside a message"})
			}
		default:
			return nil, c.readError(&protocolError{fmt.Sprintf("the reserved opcode %#x", h.op)})
		}
		if int64(len(b))+h.length > int64(c.maxSize) {
			c.skip = h.length
			return nil, &FramingError{Condition: CondPolicyViolation, Text: fmt.Sprintf("a message over max_stanza_size (%d bytes)", c.maxSize)}
		}
		if c.msg == nil {
			c.msg = ioBufPool.Get().(*[]byte)
			b = (*c.msg)[:0]
		}
		// The buffer grows with the bytes that come, not with the length a
		// frame claims: a head alone does not make the server allocate
		// max_stanza_size.
		for done := int64(0); done < h.length; {
			k := min(h.length-done, readChunk)
			n := len(b)
			b = append(b, make([]byte, k)...)
			*c.msg = b
			if _, err := io.ReadFull(c.in, b[n:]); err != nil {
				return nil, c.readError(err)
			}
			unmask(b[n:], h.mask, done)
			done += k
		}
		if h.fin {
			return b, nil
		}
	}
}

// readChunk is how far ahead of the bytes read the message buffer grows.
const readChunk = 4096

// control answers a control frame: a ping with a pong, a close frame with
// the close frame (its status echoed), a pong not at all (its arrival
// counts).
func (c *Conn) control(h frameHead) error {
	var buf [maxControlPayload]byte
	p := buf[:h.length]
	if _, err := io.ReadFull(c.in, p); err != nil {
		return c.readError(err)
	}
	unmask(p, h.mask, 0)
	switch h.op {
	case opPing:
		c.writeControl(opPong, p)
	case opPong:
		c.lastMsg.Store(time.Now().UnixNano())
	case opClose:
		code, err := closeCode(p)
		if err != nil {
			return c.readError(err)
		}
		c.closeRcvd = true
		if code == statusNoStatus {
			p = nil
		}
		c.writeControl(opClose, p[:min(len(p), 2)])
		switch code {
		case statusNormal, statusGoingAway, statusNoStatus:
			return nil // io.EOF
		}
		return fmt.Errorf("%w with status %d", ErrClosedByClient, code)
	}
	return nil
}

// readError maps read errors: a client that did not answer a ping is a
// timeout; a protocol error is remembered for Close.
func (c *Conn) readError(err error) error {
	if c.pingFailed.Load() {
		return fmt.Errorf("websocket: no answer to a ping within %v: %w", c.pingTimeout, os.ErrDeadlineExceeded)
	}
	var pe *protocolError
	if errors.As(err, &pe) {
		c.protoErr.Store(true)
		return err
	}
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF // the connection ended without a close frame
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

// send writes each of msgs as a text message, the frames gathered in one
// buffer, so that a message (or several small ones) is one write to the
// connection. With hold (the end of the stream) they wait for the
// connection's next write, under the same deadline: the close frame that
// Close writes.
func (c *Conn) send(ctx context.Context, hold bool, msgs ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch {
	case c.wclosed || c.closeSent:
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
	err := func() error {
		for _, m := range msgs {
			if len(bytes.TrimLeft(m, " \t\r\n")) == 0 {
				continue // whitespace keepalives: WebSocket pings do that job
			}
			if c.out == nil {
				c.out = ioBufPool.Get().(*[]byte)
			}
			at, attr := standaloneAttr(m)
			b := appendFrameHead(*c.out, opText, len(m)+len(attr))
			b = append(b, m[:at]...)
			b = append(b, attr...)
			*c.out = append(b, m[at:]...)
			if len(*c.out) >= maxBatch {
				if err := c.flush(deadline); err != nil {
					return err
				}
			}
		}
		if hold {
			c.netConn.SetWriteDeadline(deadline)
			return nil
		}
		return c.flush(deadline)
	}()
	if err != nil {
		c.wfailed = true
		c.netConn.SetWriteDeadline(time.Unix(1, 0))
		return fmt.Errorf("websocket: write: %w", err)
	}
	return nil
}

// flush writes the gathered frames under deadline (zero: the one set).
func (c *Conn) flush(deadline time.Time) error {
	if c.out == nil {
		return nil
	}
	if !deadline.IsZero() {
		c.netConn.SetWriteDeadline(deadline)
	}
	_, err := c.netConn.Write(*c.out)
	if cap(*c.out) <= 64<<10 {
		*c.out = (*c.out)[:0]
		ioBufPool.Put(c.out)
	}
	c.out = nil
	return err
}

// writeControl writes a control frame, after whatever is held back; a
// failure shows in the next read or write. After the close frame nothing
// more is written.
func (c *Conn) writeControl(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.wfailed {
		return net.ErrClosed
	}
	if op == opClose {
		c.closeSent = true
	}
	if c.out == nil {
		c.out = ioBufPool.Get().(*[]byte)
	}
	*c.out = append(appendFrameHead(*c.out, op, len(p)), p...)
	now := time.Now()
	deadline := now.Add(closeWait)
	// The writer's deadline bounds a control frame only while it is ahead:
	// one left from the session's last write, long past, would fail every
	// keepalive ping of an idle session.
	if c.wdeadline.After(now) && c.wdeadline.Before(deadline) {
		deadline = c.wdeadline
	}
	err := c.flush(deadline)
	if err != nil {
		c.wfailed = true
	}
	return err
}

// Close closes the WebSocket with status 1000 (normal closure), waiting a
// little for the client's close frame; after a failed write, or a client
// that broke the protocol (status 1002 then), at once. Call it after
// WriteClose or WriteStreamError. Any goroutine may call it, a reader may
// be reading meanwhile.
func (c *Conn) Close() error {
	if c.closing.Swap(true) {
		return nil
	}
	if c.keepalive != nil {
		c.keepalive.Stop()
	}
	code := []byte{statusNormal >> 8, statusNormal & 0xff}
	if c.protoErr.Load() {
		code = []byte{statusProtocolError >> 8, statusProtocolError & 0xff}
	}
	c.wmu.Lock()
	failed := c.wfailed
	c.wclosed = true
	c.wmu.Unlock()
	if failed || c.writeControl(opClose, code) != nil || c.protoErr.Load() {
		return c.netConn.Close()
	}
	// The closing handshake: the client's close frame, read here or by a
	// reader that is reading now (the deadline ends its read too).
	c.netConn.SetReadDeadline(time.Now().Add(closeWait))
	c.rmu.Lock()
	if c.skip > 0 { // the rest of a refused frame: the client may still be sending it
		io.CopyN(io.Discard, c.in, c.skip)
		c.skip = 0
	}
	for !c.closeRcvd {
		h, err := readFrameHead(c.in)
		if err != nil {
			break
		}
		if h.op >= opClose {
			if c.control(h) != nil {
				break
			}
			continue
		}
		if _, err := io.CopyN(io.Discard, c.in, h.length); err != nil {
			break
		}
	}
	c.closeRcvd = true // no reader reads on
	c.rmu.Unlock()
	if err := c.netConn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
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

// ping runs on the keepalive timer: it pings a client quiet for an
// interval, and disconnects one whose ping went unanswered for the timeout
// (every frame read counts as an answer).
func (c *Conn) ping() {
	if c.closing.Load() {
		return
	}
	if sent := c.pingSent.Load(); sent != 0 {
		if time.Since(time.Unix(0, sent)) >= c.pingTimeout {
			c.pingFailed.Store(true)
			c.drop() // a dead peer: the reader's next read fails
			return
		}
	}
	idle := time.Since(time.Unix(0, c.lastMsg.Load()))
	if c.pingSent.Load() == 0 && idle < c.pingInterval {
		c.keepalive.Reset(c.pingInterval - idle)
		return
	}
	if c.pingSent.Load() == 0 {
		c.pingSent.Store(time.Now().UnixNano())
		if c.writeControl(opPing, nil) != nil {
			c.pingFailed.Store(true)
			c.drop()
			return
		}
	}
	c.keepalive.Reset(c.pingTimeout)
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
