package server

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"
)

// session is a bound resource. Other sessions' goroutines deliver to it with
// enqueue, which never blocks; its writer goroutine is the only one writing
// to the connection once negotiation is over.
type session struct {
	c     *conn
	srv   *Server
	jid   jid.JID
	full  string // jid.String()
	bare  string
	host  string
	queue chan []byte
	done  chan struct{} // closed by kill

	killOnce sync.Once
	trailer  []byte // what the writer sends last (stream error, stream end)
	reason   string // why the session ended, for the log

	available atomic.Bool
	priority  atomic.Int32
	presence  atomic.Pointer[[]byte] // the last broadcast presence, 'from' stamped

	// Owned by the read loop only.
	directed map[string]jid.JID // who got directed available presence
}

func newSession(c *conn, full jid.JID) *session {
	return &session{
		c:        c,
		srv:      c.srv,
		jid:      full,
		full:     full.String(),
		bare:     full.Bare().String(),
		host:     c.host.name,
		queue:    make(chan []byte, c.srv.queueSize()),
		done:     make(chan struct{}),
		directed: make(map[string]jid.JID),
	}
}

func randomResource() string {
	var b [8]byte
	rand.Read(b[:])
	return "xtokend-" + hex.EncodeToString(b[:])
}

// enqueue hands an encoded stanza to the session's writer. It never blocks:
// a client whose queue is full has stopped reading and is disconnected.
func (s *session) enqueue(b []byte) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.queue <- b:
		return true
	default:
		s.kill(condResourceConstraint, "outbound queue full")
		return false
	}
}

// kill ends the session once: the writer sends the stream error (if cond is
// not empty) and the stream end, then closes the connection.
func (s *session) kill(cond, reason string) {
	s.killOnce.Do(func() {
		s.trailer = streamErrorBytes(cond, reason)
		s.reason = reason
		if cond != "" {
			s.reason = cond + ": " + reason
		}
		close(s.done)
	})
}

// run serves the session until it ends: the writer in a new goroutine, the
// read loop in this one.
func (s *session) run(xs *xmpp.Session) {
	srv := s.srv
	out := xs.Conn()
	log := s.c.log.With("jid", s.full)
	log.Info("session start", "host", s.host, "tls", isTLS(out))
	if f := srv.Hooks.OnSessionStart; f != nil {
		f(s.host)
	}

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(out)
	}()

	err := s.readLoop(xs)
	switch {
	case err == nil || errors.Is(err, io.EOF):
		s.kill("", "closed by client")
	case s.c.cc.exceeded():
		s.kill(condPolicyViolation, "stanza too large")
	default:
		var se stream.Error
		var ce *clientError
		switch {
		case errors.As(err, &ce):
			s.kill(ce.cond, ce.text)
		case errors.As(err, &se):
			s.kill("", "stream error from client: "+se.Err)
		case isClosed(err):
			s.kill("", "connection closed")
		default:
			s.kill(condNotWellFormed, err.Error())
		}
	}
	srv.reg.unbind(s)
	s.goOffline()
	<-writerDone
	log.Info("session end", "host", s.host, "reason", s.reason)
	if f := srv.Hooks.OnSessionEnd; f != nil {
		f(s.host)
	}
}

// isClosed reports a connection that went away (or was closed by the
// writer) rather than bad XML: the decoder calls a TCP close in the middle
// of the stream an unexpected EOF.
func isClosed(err error) bool {
	var ne net.Error
	var syn *xml.SyntaxError
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &ne) && ne.Timeout()) ||
		(errors.As(err, &syn) && syn.Msg == "unexpected EOF")
}

// writeLoop writes queued stanzas (batched when several wait) with a write
// deadline, then the trailer, then closes the connection so the read loop
// ends too.
func (s *session) writeLoop(w net.Conn) {
	timeout := s.srv.writeTimeout()
	var buf bytes.Buffer
	for {
		select {
		case b := <-s.queue:
			buf.Reset()
			buf.Write(b)
		batch:
			for buf.Len() < 64*1024 {
				select {
				case b := <-s.queue:
					buf.Write(b)
				default:
					break batch
				}
			}
			w.SetWriteDeadline(time.Now().Add(timeout))
			if _, err := w.Write(buf.Bytes()); err != nil {
				s.kill("", "write failed: "+errText(err))
				w.Close()
				return
			}
		case <-s.done:
			w.SetWriteDeadline(time.Now().Add(timeout))
			w.Write(s.trailer)
			w.Close()
			return
		}
	}
}

func errText(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}

// readLoop reads whole stanzas and routes them until the stream ends.
func (s *session) readLoop(xs *xmpp.Session) error {
	r := xs.TokenReader()
	defer r.Close()
	for {
		s.c.cc.reset()
		st, err := readStanza(r)
		if err != nil {
			return err
		}
		if f := s.srv.Hooks.OnStanza; f != nil {
			f(st.name)
		}
		if err := s.route(st); err != nil {
			return err
		}
	}
}

// isTLS reports whether the session runs over TLS.
func isTLS(c net.Conn) bool {
	tc, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	return ok && tc.ConnectionState().HandshakeComplete
}
