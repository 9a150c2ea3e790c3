package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Stream management (XEP-0198): acks both ways, and resumption of a session
// whose connection dropped.
//
// A session enables it with <enable/> once bound. From then on its read loop
// counts the stanzas it handled (h, answered to <r/>) and its outbox keeps
// every stanza it queued until the client's <a h/> covers it.
// With resume='true' the session gets an id: 128 random bits, kept in the
// server's table by their SHA-256 (a lookup compares no secret bytes), for
// the user's bare JID only.
//
// When such a session's connection drops without the stream's end, the
// session stays bound and registered (it is still where its full JID's
// stanzas go) but detached: what is sent to it waits unacked. A new stream,
// authenticated as the same user, sends <resume previd h/> instead of a bind
// request: the session takes the new connection, sends again what the
// client did not handle, and goes on with the same full JID; its presence
// is not broadcast again. A resumption while the old connection is still
// open takes the session over, and the old connection gets a conflict
// stream error. Not resumed within the host's resume_timeout, the session
// ends as any other: the unacked messages are stored offline or bounced
// (smBounce), then the unavailable presence.
//
// The id names one session: once that session ended, or on another node of
// a cluster (sessions do not move between nodes), it is item-not-found.

const nsSM = "urn:xmpp:sm:3"

// textNotResumed is why a detached session ends at its resume timeout.
const textNotResumed = "not resumed in time"

// condUndefinedCondition ends a stream whose client acked more than it got.
const condUndefinedCondition = "undefined-condition"

// The stream feature, offered after authentication (beside bind).
const featureSM = "<sm xmlns='" + nsSM + "'/>"

// errLostEOF is a connection that ended between stanzas without the
// stream's end: closed by the client (as io.EOF is) but, for stream
// management, lost.
var errLostEOF = fmt.Errorf("server: connection closed without the stream's end: %w", io.EOF)

// smState is a session's stream management, made by <enable/>.
type smState struct {
	id      string        // the resumption id (hex), "" when not resumable
	key     [32]byte      // SHA-256 of id: the table's key
	timeout time.Duration // resume_timeout
	inbound atomic.Uint32 // h: stanzas handled from the client, modulo 2^32

	mu       sync.Mutex
	conn     *conn         // the connection the session is served on; nil while detached
	loopDone chan struct{} // closed when conn's read loop is over
	resuming bool          // a resumption is taking the session
	ended    bool          // the session ended: no resumption
	timer    *time.Timer   // the resume timeout while detached
}

// smTable is the server's resumable sessions by their id's digest.
type smTable struct {
	mu       sync.Mutex
	sessions map[[32]byte]*session
	counts   smCounts
}

func (t *smTable) add(key [32]byte, s *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessions == nil {
		t.sessions = make(map[[32]byte]*session)
	}
	t.sessions[key] = s
}

func (t *smTable) remove(key [32]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sessions, key)
}

func (t *smTable) lookup(id string) *session {
	key := sha256.Sum256([]byte(id))
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sessions[key]
}

// all is every resumable session (Shutdown ends those detached).
func (t *smTable) all() []*session {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*session, 0, len(t.sessions))
	for _, s := range t.sessions {
		out = append(out, s)
	}
	return out
}

// smHandle answers a stream management element on a bound session's
// stream (from its read loop, on connection c).
func (s *session) smHandle(c *conn, el smElement) error {
	sm := s.sm.Load()
	switch el.name {
	case "enable":
		if sm != nil {
			s.reply([]byte(smFailedUnexpected)) // enabled twice
			return nil
		}
		s.smEnable(c, el.resume, false)
	case "r":
		if sm == nil {
			s.reply([]byte(smFailedUnexpected))
			return nil
		}
		s.reply(appendSMAck(nil, sm.inbound.Load()))
	case "a":
		switch {
		case sm == nil:
			s.reply([]byte(smFailedUnexpected))
		case !el.hOK:
			s.reply([]byte(smFailedBadRequest))
		default:
			if sent, ok := s.out.ack(el.h); !ok {
				return &clientError{cond: condUndefinedCondition, text: "handled count too high: h=" + strconv.FormatUint(uint64(el.h), 10) + ", sent " + strconv.FormatUint(uint64(sent), 10)}
			}
		}
	case "resume":
		// Only instead of binding: this stream has its session.
		s.reply([]byte(smFailedUnexpected))
	default:
		return &clientError{cond: condUnsupportedStanzaType, text: "unknown stream management element " + truncateName(el.name)}
	}
	return nil
}

// smEnable turns stream management on for s, resumable when asked for and
// the host allows it (resume_timeout above 0). The <enabled/> is queued
// for the writer, or returned when inline (a Bind2 request's, which goes
// inside the SASL2 success).
func (s *session) smEnable(c *conn, resume, inline bool) []byte {
	opts := c.host.settings.StreamManagement
	sm := &smState{timeout: opts.ResumeTimeout.Duration, conn: c, loopDone: make(chan struct{})}
	if resume && sm.timeout > 0 {
		var raw [16]byte
		rand.Read(raw[:])
		sm.id = hex.EncodeToString(raw[:])
		sm.key = sha256.Sum256([]byte(sm.id))
	}
	s.sm.Store(sm)
	enabled := appendSMEnabled(nil, sm.id, sm.timeout)
	queued := enabled
	if inline {
		queued = nil
	}
	if !s.out.enableSM(queued, opts.MaxUnacked) {
		return nil // ending
	}
	if sm.id != "" {
		s.srv.sm.add(sm.key, s)
	}
	return enabled
}

// smCounted is the read loop's count of one more handled stanza.
func (s *session) smCounted() {
	if sm := s.sm.Load(); sm != nil {
		sm.inbound.Add(1)
	}
}

// smLoopDone says c's read loop is over (a takeover waits for it).
func (s *session) smLoopDone(c *conn) {
	sm := s.sm.Load()
	if sm == nil {
		return
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if (sm.conn == c || sm.conn == nil) && sm.loopDone != nil {
		close(sm.loopDone)
		sm.loopDone = nil
	}
}

// smDetach is where the read loop of connection c, over with err, decides
// the session's fate: true when the session lives on without c (detached,
// waiting for a resumption, or already taken over by another connection);
// false when it ends now, and no resumption will find it.
func (s *session) smDetach(c *conn, err error) bool {
	sm := s.sm.Load()
	if sm == nil {
		return false
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.conn != c {
		return true // taken over by a resumption
	}
	if sm.id == "" || sm.ended || !lostConnection(err) || s.srv.closing.Load() || !s.out.detach() {
		sm.ended = true
		return false
	}
	sm.conn = nil
	// The detached session is waited for by Shutdown, as its connection was.
	s.srv.wg.Add(1)
	s.srv.sm.counts.detached.Add(1)
	sm.timer = time.AfterFunc(sm.timeout, func() { s.smEndDetached("", textNotResumed) })
	c.info("session detached", "jid", s.full, "reason", errText(err))
	return true
}

// smLost is smDetach for a connection that broke right after it resumed
// the session, before its read loop started.
func (s *session) smLost(c *conn) bool {
	defer s.smLoopDone(c)
	return s.smDetach(c, errLostEOF)
}

// lostConnection reports a read loop that ended because the connection
// went (closed or reset without the stream's end, timed out, closed by a
// failed write), not because the client ended its stream or sent bad XML.
func lostConnection(err error) bool {
	var op *net.OpError
	switch {
	case err == nil:
		return false
	case errors.Is(err, errLostEOF):
		return true
	case errors.Is(err, io.EOF):
		return false // </stream:stream>
	}
	return isClosed(err) || errors.As(err, &op)
}

// smEndDetached ends a detached session (its resume timeout passed, it was
// killed, the server shuts down): false when it is not detached (a
// connection serves it, which ends it as usual).
func (s *session) smEndDetached(cond, text string) bool {
	sm := s.sm.Load()
	if sm == nil {
		return false
	}
	sm.mu.Lock()
	if sm.conn != nil || sm.ended || sm.resuming {
		attached := sm.conn != nil || sm.resuming
		sm.mu.Unlock()
		return !attached
	}
	sm.ended = true
	if sm.timer != nil {
		sm.timer.Stop()
	}
	sm.mu.Unlock()
	// Not in the caller's goroutine: a kill comes from a sender's read loop,
	// and storing offline waits on the database.
	go s.smFinish(cond, text)
	return true
}

// smFinish is the end of a detached session.
func (s *session) smFinish(cond, text string) {
	defer s.srv.wg.Done()
	s.srv.sm.counts.detached.Add(-1)
	if text == textNotResumed {
		s.srv.sm.counts.expired.Add(1)
	}
	srv := s.srv
	srv.unbindSession(s)
	s.smBounce()
	s.goOffline()
	srv.logger().Info("session end", "jid", s.full, "reason", endReason(cond, text))
	srv.ops.metrics.OnSessionEnd(s.host, transportName(s.c.t))
	if f := srv.hooks.OnSessionEnd; f != nil {
		f(s.host)
	}
}

// smShutdown ends every detached session (Server.Shutdown).
func (srv *Server) smShutdown() {
	for _, s := range srv.sm.all() {
		s.smEndDetached(condSystemShutdown, "server shutting down")
	}
}
