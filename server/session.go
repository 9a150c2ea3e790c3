package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// session is a bound resource. Other sessions' goroutines deliver to it with
// enqueue, which never blocks; its outbox is the only one writing to the
// connection once negotiation is over (its writer, or a lone stanza's
// sender when the socket takes it at once).
type session struct {
	c    *conn
	srv  *Server
	jid  jid.JID
	full string // jid.String()
	bare string
	host string

	out outbox // the outbound queue and its writer

	available atomic.Bool
	priority  atomic.Int32
	presence  atomic.Pointer[[]byte]  // the last broadcast presence, 'from' stamped
	stored    storedFlags             // roster and block list interest
	sm        atomic.Pointer[smState] // stream management, once enabled

	// Owned by the read loop only.
	directed map[string]jid.JID // who got directed available presence; nil until someone did
}

func newSession(c *conn, full jid.JID) *session {
	f := full.String()
	bare := f // the bare JID is the full one's start: no string of its own
	if i := strings.IndexByte(f, '/'); i >= 0 {
		bare = f[:i] // neither a localpart nor a domainpart has a '/'
	}
	s := &session{
		c:    c,
		srv:  c.srv,
		jid:  full,
		full: f,
		bare: bare,
		host: c.host.name,
	}
	s.out.init(c.srv.queueSize(), c.srv.writeTimeout())
	return s
}

func randomResource() string {
	var b [8]byte
	rand.Read(b[:])
	return "xtokend-" + hex.EncodeToString(b[:])
}

// enqueue hands an encoded stanza from elsewhere (another session, a
// cluster link) to the session's writer. It never blocks: a client with a
// full queue of others' stanzas has stopped reading and is disconnected.
func (s *session) enqueue(b []byte) bool {
	switch s.out.add(b) {
	case added:
		return true
	case full:
		s.kill(condResourceConstraint, "outbound queue full")
	}
	return false
}

// reply queues a stanza for s's own client from s's read loop: an answer, or
// a stanza the client sent itself. It waits while the queue is full, so a
// client's own burst slows its reading instead of ending its session.
func (s *session) reply(b []byte) {
	s.out.addOwn(b)
}

// sendTo hands b to t from s's read loop: to s itself with reply, to
// anyone else with enqueue, which never blocks.
// It reports whether t took b (false once t's session has ended).
func (s *session) sendTo(t *session, b []byte) bool {
	if t == s {
		return s.out.addOwn(b) == added
	}
	return t.enqueue(b)
}

// kill ends the session once: the writer sends the stream error (if cond is
// not empty) and the stream end, then closes the connection.
func (s *session) kill(cond, text string) {
	if s.smEndDetached(cond, text) {
		return // it had no connection (stream management)
	}
	s.out.close(cond, text, endReason(cond, text))
}

// end is kill for the session's own read loop (see outbox.closeHere).
func (s *session) end(cond, text string) {
	s.out.closeHere(cond, text, endReason(cond, text))
}

// endReason is why a session ended, as its last log line says.
func endReason(cond, text string) string {
	if cond == "" {
		return text
	}
	return cond + ": " + text
}

// run serves the session on connection c until it ends: the read loop starts
// in this goroutine (readOn says where it goes on), the writer runs when
// there is something to write (outbox).
// Its stanzas are read from d, the decoder that read the client's last stream
// header and its bind request (or its resume, c.resumed).
func (s *session) run(c *conn, d *xmltok.Decoder) {
	srv := s.srv
	if !c.resumed {
		// Attributes only when the line is printed (conn.info): no logger With
		// them per session.
		// Short at info (a line per login adds up: ~390 bytes per login were
		// measured with three lines); the JID names the host.
		if c.logs(slog.LevelInfo) {
			c.info("session start", "jid", s.full, "tls", c.t.Secure(), "transport", transportName(c.t))
		}
		// The metrics count it here, not in the hook: they label the transport.
		srv.ops.metrics.OnSessionStart(s.host, transportName(c.t))
		if f := srv.hooks.OnSessionStart; f != nil {
			f(s.host)
		}
	}

	s.out.start(c.t, &s.srv.negotiators)
	r := &streamReader{d: d, header: c.header}
	c.header = ""
	s.readOn(c, r)
}

// readOn runs the read loop until the stream ends, then finishes the session
// and lets go of the connection (conn.served); or, on a transport that can
// tell (bufferedReader), until nothing is left to decode, and then waits for
// the client in a new goroutine and returns. That is how an idle session waits on a 2 KB stack:
// the runtime halves an idle goroutine's stack only when what it uses plus
// an 800-byte reserve is under a quarter of it, so a goroutine that grew
// past 2 KB once (decoding, routing) would keep 4 KB while it waits. The
// grown goroutine ends instead, and a fresh one (2 KB) waits; it decodes and
// routes once the client sends, then hands the next wait on the same way.
// The cost is one goroutine start per wait that finds nothing buffered.
func (s *session) readOn(c *conn, r *streamReader) {
	err := s.readLoop(c, r)
	if err == errWaitIdle {
		s.waitIdle(c, r)
		return
	}
	s.finish(c, err)
	c.served()
}

// waitIdle hands the wait for the client's next bytes to the epoll set
// (parkable), or to a fresh goroutine.
func (s *session) waitIdle(c *conn, r *streamReader) {
	r.idle(c.t.StreamReader()) // the decoder too waits no more
	if p, ok := c.t.(parkable); ok && p.Park(&wakeRead{s, c, r, true}) {
		return
	}
	go s.waitThenRead(c, r)
}

// waitThenRead is a fresh goroutine's wait for the client's next stanza,
// for a session that does not park (wss:// on xtokend's own TLS listener,
// or no parker).
// Once the client has sent, the read loop goes on on a pooled goroutine
// (wakeRead), and this one ends. Under TLS it waits for the socket only, and
// the record is read through crypto/tls on the pooled goroutine too.
func (s *session) waitThenRead(c *conn, r *streamReader) {
	if sw, ok := c.t.(socketWaiter); ok && sw.WaitSocket() {
		s.srv.negotiators.do(&wakeRead{s, c, r, true})
		return
	}
	if err := c.t.WaitReadable(); err != nil {
		s.lost(c, err)
		return
	}
	s.srv.negotiators.do(&wakeRead{s, c, r, false})
}

// lost ends a session whose wait for the client failed.
func (s *session) lost(c *conn, err error) {
	if errors.Is(err, io.EOF) {
		err = errLostEOF
	}
	s.finish(c, err)
	c.served()
}

// parkable is a transport whose idle wait can be a place in the server's
// epoll set instead of a goroutine (parker).
type parkable interface{ Park(wake job) bool }

// socketWaiter is a transport whose wait can stop short of the read: TLS
// waits for the TCP socket, and leaves the read through crypto/tls, deep
// enough to grow a fresh goroutine's stack, to the next WaitReadable.
type socketWaiter interface {
	// WaitSocket waits for the socket and reports true, or does nothing
	// and reports false when WaitReadable is all the wait there is.
	WaitSocket() bool
}

// wakeRead is a woken session's read loop as a job of the negotiator pool,
// whose goroutines' stacks have grown already: decoding and routing on the
// 2 KB stack the wait had would grow and copy it for every woken stanza.
type wakeRead struct {
	s *session
	c *conn
	r *streamReader
	// read: only the socket was waited for (socketWaiter); the read is
	// the job's.
	read bool
}

func (w *wakeRead) run() {
	if w.read {
		ready, err := readWoken(w.c.t)
		if err != nil {
			w.s.lost(w.c, err)
			return
		}
		if !ready {
			w.s.waitIdle(w.c, w.r)
			return
		}
	}
	w.s.readOn(w.c, w.r)
}

// wokenReader is a transport whose read, once its socket is readable, may
// find nothing for the stream (WebSocket: a keepalive's pong); the session
// waits again then.
type wokenReader interface {
	ReadWoken() (ready bool, err error)
}

// readWoken reads what woke a parked session's socket.
func readWoken(t transport) (ready bool, err error) {
	if wr, ok := t.(wokenReader); ok {
		return wr.ReadWoken()
	}
	return true, t.WaitReadable()
}

// errWaitIdle tells readOn that the read loop found nothing to decode and
// the wait goes to the epoll set, or to a fresh goroutine.
var errWaitIdle = errors.New("server: wait for the client with no read loop")

// bufferedReader is a transport that tells whether it holds bytes the
// decoder has not taken yet (TCP).
type bufferedReader interface{ Buffered() bool }

// finish ends the session after its read loop ended with err (nil or io.EOF
// for the client's stream end).
func (s *session) finish(c *conn, err error) {
	srv := s.srv
	defer s.smLoopDone(c)
	if s.smDetach(c, err) {
		return // the session lives on without c
	}
	// Out of the registry before its stream's end goes out: once the client
	// has that end, a message to it is stored or bounced, not written to a
	// stream it no longer reads.
	srv.unbindSession(s)
	switch {
	case err == nil || errors.Is(err, io.EOF):
		s.end("", "closed by client")
	case c.t.Exceeded():
		s.end(condPolicyViolation, "stanza too large")
	case c.t.StanzaTimedOut():
		s.end(condConnectionTimeout, "stanza not completed in time")
	default:
		var se stream.Error
		var ce *clientError
		switch {
		case errors.As(err, &ce):
			s.end(ce.cond, ce.text)
		case errors.As(err, &se):
			s.end("", "stream error from client: "+se.Err)
		case isClosed(err):
			s.end("", "connection closed")
		default:
			s.end(badXMLCondition(err), err.Error())
		}
	}
	s.smBounce()
	s.goOffline()
	reason := s.out.wait()
	if c.logs(slog.LevelInfo) {
		c.info("session end", "jid", s.full, "reason", reason)
	}
	// The transport it started on: the metrics' label is the start's.
	srv.ops.metrics.OnSessionEnd(s.host, transportName(s.c.t))
	if f := srv.hooks.OnSessionEnd; f != nil {
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

// readLoop reads whole stanzas and routes them until the stream ends.
func (s *session) readLoop(c *conn, r *streamReader) error {
	br, handOff := c.t.(bufferedReader)
	for {
		c.t.ResetCount()
		if handOff && !br.Buffered() {
			return errWaitIdle // readOn
		}
		// Idle sessions wait here, not deep in the decoder.
		if err := c.t.WaitReadable(); err != nil {
			if errors.Is(err, io.EOF) {
				return errLostEOF
			}
			return err
		}
		if r.d == nil { // dropped while idle (readOn)
			if err := r.wake(c.t.StreamReader()); err != nil {
				return err
			}
			c.t.ResetCount()
			c.t.StanzaDone() // the replayed header starts no stanza
		}
		start, err := readStart(r)
		if err != nil {
			return err
		}
		if start.Name.Space == nsSM {
			el, err := readSMElement(r, start)
			if err != nil {
				return err
			}
			c.t.StanzaDone()
			if err := s.smHandle(c, el); err != nil {
				return err
			}
			continue
		}
		st, err := readStanzaFrom(r, start)
		if err != nil {
			return err
		}
		c.t.StanzaDone()
		if f := s.srv.hooks.OnStanza; f != nil {
			f(st.name)
		}
		if err := s.route(st); err != nil {
			return err
		}
		s.smCounted()
	}
}
