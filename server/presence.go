package server

import (
	"bytes"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// maxDirected bounds the entities a session remembers having sent directed
// presence to (each gets unavailable presence when it ends); past it,
// directed presence is refused with resource-constraint.
const maxDirected = 1000

// routePresence handles presence as RFC 6121 section 4 allows without a
// roster: broadcasts reach the user's own available resources, directed
// presence reaches local entities and is remembered so that they get
// unavailable presence when the session ends. Probes are not answered (no
// subscriptions exist); subscription requests pass through to the contact's
// available resources, stamped with the sender's bare JID, for clients that
// keep their own roster.
func (s *session) routePresence(st *xmlStanza, to jid.JID) error {
	if st.to == "" {
		return s.broadcastPresence(st)
	}
	if !s.local(to) {
		s.replyError(st, to.String(), stanza.Cancel, stanza.RemoteServerNotFound, "this server does not federate")
		return nil
	}
	if to.Localpart() == "" {
		return nil // presence to a server is for the server, which has no use for it
	}
	toStr := to.String()
	switch st.typ {
	case "", "unavailable":
		if st.typ == "" {
			if _, ok := s.directed[toStr]; !ok && len(s.directed) >= maxDirected {
				s.replyError(st, toStr, stanza.Wait, stanza.ResourceConstraint, "too many entities hold directed presence")
				return nil
			}
			if s.directed == nil {
				s.directed = make(map[string]jid.JID) // most sessions send none
			}
			s.directed[toStr] = to
		} else {
			delete(s.directed, toStr)
		}
		if to.Resourcepart() != "" {
			if t := s.srv.reg.lookup(toStr); t != nil {
				return s.deliver(st, s.full, toStr, t)
			}
			_, err := s.routeRemote(st, s.full, toStr)
			return err
		}
		if _, _, err := s.forward(st, s.full, toStr, s.remoteNodes(toStr)); err != nil {
			return err
		}
		return s.deliver(st, s.full, toStr, s.availableResources(toStr, -128)...)
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		if s.srv.store() != nil {
			return s.routeSubscription(st, to) // on the stored rosters
		}
		bare := to.Bare().String()
		if _, _, err := s.forward(st, s.bare, bare, s.remoteNodes(bare)); err != nil {
			return err
		}
		return s.deliver(st, s.bare, bare, s.availableResources(bare, -128)...)
	case "error":
		if t := s.srv.reg.lookup(toStr); t != nil {
			return s.deliver(st, s.full, toStr, t)
		}
	case "probe":
		s.answerClientProbe(to) // by the stored rosters
	}
	return nil // unknown types
}

// broadcastPresence handles presence without 'to': the user's availability.
// RFC 6121 section 4.4.2: it goes to all the user's available resources,
// including the sender.
func (s *session) broadcastPresence(st *xmlStanza) error {
	switch st.typ {
	case "":
		prio := int32(0)
		if text, ok := st.childText("priority"); ok {
			p, err := strconv.ParseInt(strings.TrimSpace(text), 10, 8)
			if err != nil {
				return &clientError{cond: condBadFormat, text: "priority is an integer from -128 to 127"}
			}
			prio = int32(p)
		}
		b, err := st.encode(s.full, "")
		if err != nil {
			return &clientError{cond: condBadFormat, text: "stanza cannot be re-encoded"}
		}
		s.priority.Store(prio)
		s.presence.Store(&b)
		// In a cluster: the other nodes learn the new availability before
		// the presence itself, which travels behind it on the same link.
		s.publishAvailability(true, prio)
		if _, _, err := s.forward(st, s.full, s.bare, s.remoteNodes(s.bare)); err != nil {
			return err // the user's resources on other nodes of a cluster
		}
		initial := !s.available.Swap(true)
		for _, r := range s.availableResources(s.bare, -128) {
			s.sendTo(r, b)
			// The first presence: tell the new resource about the others.
			if initial && r != s {
				if p := r.presence.Load(); p != nil {
					s.reply(*p)
				}
			}
		}
		if initial {
			s.probeRemote() // and about those on other nodes of a cluster
		}
		s.presenceToContacts(b, initial) // subscribers
		if initial && prio >= 0 {
			s.deliverOffline()
		}
	case "unavailable":
		b, err := st.encode(s.full, "")
		if err != nil {
			return &clientError{cond: condBadFormat, text: "stanza cannot be re-encoded"}
		}
		for _, r := range s.availableResources(s.bare, -128) {
			s.sendTo(r, b)
		}
		s.publishAvailability(false, 0)
		if _, _, err := s.forward(st, s.full, s.bare, s.remoteNodes(s.bare)); err != nil {
			return err
		}
		s.available.Store(false)
		s.presence.Store(nil)
		s.presenceToContacts(b, false)
		s.unavailableToDirected()
	}
	return nil // other types without 'to' mean nothing without a roster
}

// unavailableToDirected tells everyone who got directed presence that the
// session is gone (RFC 6121 section 4.6.3).
func (s *session) unavailableToDirected() {
	for key, to := range s.directed {
		delete(s.directed, key)
		var b bytes.Buffer
		openStanza(&b, "presence", "unavailable", "", s.full, key)
		b.WriteString("</presence>")
		if to.Resourcepart() != "" {
			if t := s.srv.reg.lookup(key); t != nil {
				s.sendTo(t, b.Bytes())
			} else {
				s.forwardTo(key, b.Bytes())
			}
			continue
		}
		for _, t := range s.availableResources(key, -128) {
			s.sendTo(t, b.Bytes())
		}
		s.forwardBytes(key, b.Bytes())
	}
}

// goOffline runs when the session ends (after it left the registry):
// unavailable presence to the user's other resources and to whoever got
// directed presence.
func (s *session) goOffline() {
	if s.available.Swap(false) {
		var b bytes.Buffer
		openStanza(&b, "presence", "unavailable", "", s.full, "")
		b.WriteString("</presence>")
		for _, r := range s.availableResources(s.bare, -128) {
			r.enqueue(b.Bytes())
		}
		s.forwardOffline(b.Bytes())
		s.presenceToContacts(b.Bytes(), false)
	}
	s.unavailableToDirected()
}
