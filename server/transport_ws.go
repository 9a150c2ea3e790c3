package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/xtokend/xtokend/websocket"
)

// errNoStartTLS is StartTLS on a WebSocket: the negotiator never offers it
// there (CanStartTLS is false), so reaching it is a bug, not a client's fault.
var errNoStartTLS = errors.New("server: STARTTLS is not possible over WebSocket")

// wsTransport is XMPP over WebSocket (RFC 7395): the websocket package's Conn
// reads the messages back as the byte stream of RFC 6120 and writes whole
// elements as messages. Each message is one complete element, so the
// per-message size limit is the stanza limit and no stanza is ever half
// read: the stanza deadline has nothing to time.
type wsTransport struct {
	c    *websocket.Conn
	r    wsReader
	park parkState // an idle session's place in the server's epoll set
}

func newWSTransport(c *websocket.Conn, p *parker) *wsTransport {
	return &wsTransport{c: c, r: wsReader{c: c}, park: parkState{p: p}}
}

// wsReader is the decoder's reader: the Conn, remembering whether the
// message size limit ended the stream (Exceeded).
type wsReader struct {
	c        *websocket.Conn
	exceeded bool
	replay   []byte // put back by unread: read before the Conn's bytes
}

// unread puts s ahead of the bytes not read yet: a replayed stream header
// (streamReader.wake).
func (r *wsReader) unread(s string) error {
	r.replay = append([]byte(s), r.replay...)
	return nil
}

// Peek and Discard lend the decoder (internal/xmltok) the replay, then the
// Conn's message, a run of bytes at a time.
func (r *wsReader) Peek() ([]byte, error) {
	if len(r.replay) > 0 {
		return r.replay, nil
	}
	b, err := r.c.Peek()
	if err != nil {
		err = r.note(err)
	}
	return b, err
}

func (r *wsReader) Discard(n int) {
	if len(r.replay) > 0 {
		r.replay = r.replay[n:]
		if len(r.replay) == 0 {
			r.replay = nil
		}
		return
	}
	r.c.Discard(n)
}

// note is a read error as the session sees it: a close frame of any
// status is io.EOF (the Conn says so of the normal ones only, and
// ErrClosedByClient of the others). Without
// <close/> before it, that is the connection's end, not the stream's: stream
// management keeps the session for a resumption.
func (r *wsReader) note(err error) error {
	var fe *websocket.FramingError
	if errors.As(err, &fe) && fe.Condition == websocket.CondPolicyViolation {
		r.exceeded = true
	}
	if errors.Is(err, websocket.ErrClosedByClient) {
		return io.EOF
	}
	return err
}

func (r *wsReader) Read(p []byte) (int, error) {
	if len(r.replay) > 0 {
		n := copy(p, r.replay)
		r.Discard(n)
		return n, nil
	}
	n, err := r.c.Read(p)
	if err != nil {
		err = r.note(err)
	}
	return n, err
}

func (t *wsTransport) StreamReader() io.Reader { return &t.r }
func (t *wsTransport) ResetCount()             {} // the limit is per message, in the Conn
func (t *wsTransport) Exceeded() bool          { return t.r.exceeded }
func (t *wsTransport) WaitReadable() error {
	err := t.c.WaitReadable()
	if err != nil {
		err = t.r.note(err)
	}
	return err
}

// Buffered reports whether the stream has bytes the decoder has not taken:
// when it has none, the session waits in a fresh goroutine (session.readOn),
// and the Conn's wait holds no buffer and runs on a shallow stack.
func (t *wsTransport) Buffered() bool { return len(t.r.replay) > 0 || t.c.Buffered() }
func (t *wsTransport) DoneReading()   {}
func (t *wsTransport) RestartStream() {}

// WriteStreamOpen sends <open/> and the features as two messages in one
// write.
func (t *wsTransport) WriteStreamOpen(from, to, features string) error {
	open := websocket.AppendOpen(nil, from, string(appendStreamID(nil)), "en", "1.0")
	elems := [][]byte{open}
	if features != "" {
		elems = append(elems, []byte(features))
	}
	return t.c.WriteElements(context.Background(), elems)
}

func (t *wsTransport) Write(p []byte) (int, error) {
	if err := t.c.WriteElement(context.Background(), p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString writes one element; an element followed by the stream's end
// (sasl's answer to too many attempts) is that element and then <close/>.
func (t *wsTransport) WriteString(s string) (int, error) {
	if el, ok := strings.CutSuffix(s, streamEnd); ok {
		if el != "" {
			if err := t.c.WriteElement(context.Background(), []byte(el)); err != nil {
				return 0, err
			}
		}
		if err := t.c.WriteClose(); err != nil {
			return 0, err
		}
		return len(s), nil
	}
	return t.Write([]byte(s))
}

func (t *wsTransport) WriteElements(batch [][]byte) error {
	return t.c.WriteElements(context.Background(), batch)
}

func (t *wsTransport) WriteStreamClose() error { return t.c.WriteClose() }

func (t *wsTransport) WriteStreamError(cond, text string) error {
	return t.c.WriteStreamError(cond, text)
}

func (t *wsTransport) EndNegotiation() error { return nil } // nothing is held back

func (t *wsTransport) Secure() bool      { return t.c.Secure() }
func (t *wsTransport) CanStartTLS() bool { return false }

func (t *wsTransport) StartTLS(context.Context, *tls.Config) error { return errNoStartTLS }

func (t *wsTransport) RemoteIP() string { return t.c.RemoteIP() }

// The stanza deadline: a message is a whole element, so none is ever
// started and not finished.
func (t *wsTransport) CheckStreamStart() error        { return nil }
func (t *wsTransport) SetStanzaTimeout(time.Duration) {}
func (t *wsTransport) StanzaDone()                    {}
func (t *wsTransport) StanzaTimedOut() bool           { return false }

func (t *wsTransport) SetDeadline(d time.Time) error {
	err := t.c.SetReadDeadline(d)
	if werr := t.c.SetWriteDeadline(d); err == nil {
		err = werr
	}
	return err
}

func (t *wsTransport) SetWriteDeadline(d time.Time) error { return t.c.SetWriteDeadline(d) }

// Close takes the socket out of the epoll set first, waking a session
// parked there.
func (t *wsTransport) Close() error {
	t.park.closing()
	return t.c.Close()
}

// Abort is Close: the Conn's Close after a failed write closes at once, and
// any goroutine may call it.
func (t *wsTransport) Abort() error { return t.Close() }

// transportName names t in logs: "tcp" or "websocket".
func transportName(t transport) string {
	if _, ok := t.(*wsTransport); ok {
		return "websocket"
	}
	return "tcp"
}
