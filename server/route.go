package server

import (
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// route handles one stanza from s's client: RFC 6120 section 10 and RFC 6121
// section 8, for local users only (no s2s, no roster, no offline storage).
func (s *session) route(st *xmlStanza) error {
	// A 'from' may only name the sender's own account; another account is a
	// forgery and ends the stream (RFC 6120 section 4.9.3.9). Another
	// resource of its own is stamped over with the session's, as Prosody
	// does: Converse.js 14, having resumed a session (XEP-0198), stamps the
	// resource of the login it resumed from, not the session's.
	if st.from != "" && st.from != s.full && st.from != s.bare {
		f, err := jid.Parse(st.from)
		if err != nil || !f.Bare().Equal(s.jid.Bare()) {
			return &clientError{cond: condInvalidFrom, text: "'from' is not the sender's JID"}
		}
	}
	var to jid.JID
	if j, ok := s.boundTo(st); ok {
		to = j
	} else if st.to != "" {
		var err error
		to, err = jid.Parse(st.to)
		if err != nil {
			s.replyError(st, st.to, stanza.Modify, stanza.JIDMalformed, "'to' is not a valid JID")
			return nil
		}
	}
	if s.refuseBlocked(st, to) {
		return nil // XEP-0191
	}
	switch st.name {
	case "message":
		return s.routeMessage(st, to)
	case "presence":
		return s.routePresence(st, to)
	default:
		return s.routeIQ(st, to)
	}
}

// boundTo is st's 'to' parsed, when it is written exactly as a local
// session's full JID (as clients address a chat) or as the bare JID of a
// user with a session here: the session's JID is then 'to' parsed, without
// parsing it again (st.toNorm keeps the string).
func (s *session) boundTo(st *xmlStanza) (jid.JID, bool) {
	if st.to == "" || st.name == "presence" {
		return jid.JID{}, false
	}
	if t := s.srv.reg.lookup(st.to); t != nil {
		st.toNorm = t.full
		return t.jid, true
	}
	if t := s.srv.reg.anyResource(st.to); t != nil {
		st.toNorm = t.bare
		return t.jid.Bare(), true
	}
	return jid.JID{}, false
}

// toString is to (st's 'to', parsed) as a string: the session's full JID
// boundTo found, or to printed.
func toString(st *xmlStanza, to jid.JID) string {
	if st.toNorm != "" {
		return st.toNorm
	}
	return to.String()
}

// replyError answers a stanza with a stanza error, unless it is an error
// itself (errors are never answered, so two entities cannot loop).
func (s *session) replyError(st *xmlStanza, from string, typ stanza.ErrorType, cond stanza.Condition, text string) {
	if st.typ == "error" || (st.name == "iq" && st.typ == "result") {
		return
	}
	s.reply(stanzaError(st.name, st.id, from, s.full, typ, cond, text))
}

// deliver sends st to every target with 'from' stamped. It never blocks on
// another session; a copy for s itself waits for room (sendTo).
func (s *session) deliver(st *xmlStanza, from, to string, targets ...*session) error {
	_, err := s.deliverCount(st, from, to, targets...)
	return err
}

// deliverCount is deliver, counting the targets that took st: a target
// whose session ended after it was looked up takes nothing.
func (s *session) deliverCount(st *xmlStanza, from, to string, targets ...*session) (int, error) {
	if len(targets) == 0 {
		return 0, nil
	}
	b, err := st.encode(from, to)
	if err != nil {
		return 0, &clientError{cond: condBadFormat, text: "stanza cannot be re-encoded"}
	}
	n := 0
	for _, t := range targets {
		if s.sendTo(t, b) {
			n++
		}
	}
	return n, nil
}

// available returns a user's resources that sent presence, with a priority
// of at least minPriority.
func (s *session) availableResources(bare string, minPriority int32) []*session {
	all := s.srv.reg.resources(bare)
	out := all[:0]
	for _, r := range all {
		if r.available.Load() && r.priority.Load() >= minPriority {
			out = append(out, r)
		}
	}
	return out
}

// local reports whether to is on a host this server serves.
func (s *session) local(to jid.JID) bool {
	return s.srv.lookupHost(to.Domainpart()) != nil
}

func (s *session) routeMessage(st *xmlStanza, to jid.JID) error {
	if st.to == "" {
		// RFC 6120 section 10.3.1: as if addressed to the sender's bare JID.
		to = s.jid.Bare()
	}
	toStr := toString(st, to)
	switch {
	case !s.local(to):
		s.replyError(st, toStr, stanza.Cancel, stanza.RemoteServerNotFound, "this server does not federate")
		return nil
	case to.Localpart() == "":
		s.replyError(st, toStr, stanza.Cancel, stanza.ServiceUnavailable, "")
		return nil
	case to.Resourcepart() != "":
		if t := s.srv.reg.lookup(toStr); t != nil {
			return s.deliver(st, s.full, toStr, t)
		}
		if ok, err := s.routeRemote(st, s.full, toStr); ok || err != nil {
			return err // bound on another node of the cluster
		}
		// An offline full JID: the bare JID's rules (RFC 6121 section 8.5.3.2.1).
	}
	switch st.typ {
	case "error":
		return nil // never bounced
	case "groupchat":
		s.replyError(st, toStr, stanza.Cancel, stanza.ServiceUnavailable, "")
		return nil
	}
	// In a cluster, the nodes where the user has an available resource of
	// non-negative priority (what they last published) take their share:
	// the same rule for every resource, wherever it is bound (remote is nil
	// without a cluster).
	bare := toStr
	if to.Resourcepart() != "" {
		bare = to.Bare().String()
	}
	targets := s.availableResources(bare, 0)
	remote := s.remoteAvailable(bare, 0)
	// One node alone to deliver it: that node answers for it if its
	// resources went unavailable while it travelled.
	sole := len(targets) == 0 && len(remote) == 1 && st.typ != "headline"
	sent, full, err := s.forwardAs(st, s.full, toStr, remote, sole)
	if err != nil {
		return err
	}
	if len(targets) == 0 && sent == 0 && st.typ != "headline" {
		// normal and chat: nobody to take it (RFC 6121 section 8.5.2.1.1);
		// a headline is silently dropped.
		if !full && s.storeOffline(st, bare, toStr) {
			return nil // kept for the user's next login
		}
		if full {
			s.replyError(st, toStr, stanza.Wait, stanza.ResourceConstraint, "the recipient's cluster node is not keeping up")
		} else {
			s.replyError(st, toStr, stanza.Cancel, stanza.ServiceUnavailable, "")
		}
		return nil
	}
	n, err := s.deliverCount(st, s.full, toStr, targets...)
	if err != nil || n > 0 || sent > 0 || st.typ == "headline" {
		return err
	}
	// Every local target ended between the lookup and now (its stream's
	// end was on its way): the message is kept or bounced as if it had
	// been offline, never dropped.
	if s.storeOffline(st, bare, toStr) {
		return nil
	}
	s.replyError(st, toStr, stanza.Cancel, stanza.ServiceUnavailable, "")
	return nil
}

func (s *session) routeIQ(st *xmlStanza, to jid.JID) error {
	switch st.typ {
	case "get", "set":
		if st.id == "" {
			s.replyError(st, st.to, stanza.Modify, stanza.BadRequest, "an IQ needs an id")
			return nil
		}
	case "result", "error":
	default:
		s.replyError(st, st.to, stanza.Modify, stanza.BadRequest, "an IQ's type is get, set, result or error")
		return nil
	}
	request := st.typ == "get" || st.typ == "set"
	toStr := toString(st, to)
	switch {
	case st.to == "":
		// RFC 6120 section 10.3.3: the server answers on the account's behalf.
		s.serverIQ(st, "", false)
	case !s.local(to):
		if request {
			s.replyError(st, toStr, stanza.Cancel, stanza.RemoteServerNotFound, "this server does not federate")
		}
	case to.Localpart() == "" && to.Resourcepart() == "":
		s.serverIQ(st, toStr, true)
	case to.Localpart() == "":
		s.replyError(st, toStr, stanza.Cancel, stanza.ServiceUnavailable, "")
	case to.Resourcepart() == "":
		// RFC 6120 section 10.5.3.1: the server answers for the account.
		// With tokens every local user exists, so the answer is the same
		// whether the user is online or not: it reveals nothing.
		s.serverIQ(st, toStr, false)
	default:
		if t := s.srv.reg.lookup(toStr); t != nil {
			return s.deliver(st, s.full, toStr, t)
		}
		if ok, err := s.routeRemote(st, s.full, toStr); ok || err != nil {
			return err // bound on another node of the cluster
		}
		if request {
			s.replyError(st, toStr, stanza.Cancel, stanza.ServiceUnavailable, "")
		}
	}
	return nil
}
