package server

import (
	"encoding/xml"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// smNegotiate answers a stream management element read during negotiation
// (start read from d). Only <resume/> on an authenticated stream does
// something: it takes the session it names (resumed true) in place of a
// bind. <enable/>, <r/> and <a/> before binding, and <resume/> before
// authentication, are answered with <failed><unexpected-request/></failed>
// and the negotiation goes on.
func (c *conn) smNegotiate(d *xmltok.Decoder, start xml.StartElement, st stage) (resumed bool, err error) {
	el, err := readSMElement(d, start)
	if err != nil {
		return false, err
	}
	switch {
	case el.name == "resume" && st == stageBind:
		return c.resume(el)
	case el.name == "enable" || el.name == "resume" || el.name == "r" || el.name == "a":
		_, err := c.t.WriteString(smFailedUnexpected)
		return false, err
	}
	return false, &clientError{condUnsupportedStanzaType, "unknown stream management element"}
}

// resume takes the detached (or still connected) session el.previd names
// for this connection, authenticated as the session's user: <resumed/>, and
// once negotiation is over the stanzas the client did not handle are sent
// again. A resumption that cannot be is <failed/>, with the condition of
// XEP-0198: item-not-found for an id that names no session of this user on
// this node (unknown, ended, never resumable, taken by a resumption under
// way). A failed resumption leaves the stream where it was: the client may
// bind a new resource.
func (c *conn) resume(el smElement) (bool, error) {
	resumed := c.resumeSession(el)
	_, err := c.t.Write(c.scratch)
	return resumed, err
}

// resumeSession is resume without the write: the answer, <resumed/> or
// <failed/>, is left in c.scratch (a SASL2 <success/> carries it).
func (c *conn) resumeSession(el smElement) bool {
	srv := c.srv
	failed := func(cond string, h uint32, withH bool) bool {
		c.scratch = appendSMFailed(c.scratch[:0], cond, h, withH)
		return false
	}
	if el.previd == "" || !el.hOK {
		return failed("bad-request", 0, false)
	}
	user, err := jid.New(c.node, c.host.name, "")
	s := srv.sm.lookup(el.previd)
	if err != nil || s == nil || s.bare != user.String() || srv.closing.Load() {
		return failed("item-not-found", 0, false)
	}
	if srv.revoked.bindRevoked(c.host.name, c.node, s.full, c.loggedIn) {
		return failed("not-authorized", 0, false)
	}
	sm := s.sm.Load()
	sm.mu.Lock()
	if sm.ended || sm.resuming {
		sm.mu.Unlock()
		return failed("item-not-found", 0, false)
	}
	if old := sm.conn; old != nil {
		// Taken over: the old connection is let go of, under sm.mu so that
		// its read loop, ending meanwhile, finds it no longer the session's.
		oldT, ok := s.out.takeOver()
		if !ok {
			sm.mu.Unlock() // the session is ending anyway
			return failed("item-not-found", 0, false)
		}
		sm.conn, sm.resuming = nil, true
		loopDone := sm.loopDone
		srv.wg.Add(1) // detached now, as smDetach counts it
		srv.sm.counts.detached.Add(1)
		sm.mu.Unlock()
		if oldT == nil {
			// The outbox had already let go of it (a failed write) while its
			// read loop had not yet ended: it is still old's to close.
			oldT = old.t
		}
		oldT.SetWriteDeadline(time.Now().Add(time.Second))
		oldT.WriteStreamError(condConflict, "the session was resumed on another connection")
		oldT.Abort()
		if loopDone != nil {
			<-loopDone // its read loop no longer touches the session
		}
		sm.mu.Lock()
	} else {
		sm.resuming = true
		if sm.timer != nil {
			sm.timer.Stop() // if it fired, smEndDetached finds resuming and leaves the session be
			sm.timer = nil
		}
	}
	if _, ok := s.out.reattach(el.h); !ok {
		// XEP-0198: a count the server cannot have sent ends the session.
		h := sm.inbound.Load()
		sm.resuming = false
		sm.mu.Unlock()
		s.smEndDetached(condUndefinedCondition, "handled count too high on resumption")
		return failed("undefined-condition", h, true)
	}
	sm.conn, sm.resuming = c, false
	sm.loopDone = make(chan struct{})
	h := sm.inbound.Load()
	sm.mu.Unlock()
	srv.wg.Done() // this connection counts for it now
	srv.sm.counts.detached.Add(-1)
	srv.sm.counts.resumed.Add(1)

	c.mu.Lock()
	c.sess, c.resumed = s, true
	c.mu.Unlock()
	c.scratch = appendSMResumed(c.scratch[:0], sm.id, h)
	c.info("session resumed", "jid", s.full, "transport", transportName(c.t))
	return true
}
