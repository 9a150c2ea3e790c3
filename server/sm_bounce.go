package server

import (
	"context"
	"time"

	"mellium.im/xmpp/stanza"
)

// smBounce runs when a session with stream management ends: its id is
// forgotten, and the stanzas the client never acked are dealt with as if
// they had not been delivered, never dropped unseen: chat and normal
// messages are stored offline when storage is on, other messages and
// requests are answered with an error to their sender. Presence, results,
// errors and headlines are not answered (RFC 6121 drops them for an
// unavailable resource too).
func (s *session) smBounce() {
	sm := s.sm.Load()
	if sm == nil {
		return
	}
	if sm.id != "" {
		s.srv.sm.remove(sm.key)
	}
	for _, b := range s.out.takeUnacked() {
		s.smReturn(b)
	}
}

// smReturn deals with one unacked stanza b.
func (s *session) smReturn(b []byte) {
	h, err := stanzaHead(b)
	if err != nil {
		return
	}
	switch {
	case h.name == "message" && (h.typ == "" || h.typ == "normal" || h.typ == "chat"):
		if s.smStoreOffline(h, b) {
			return
		}
	case h.name == "message" && h.typ == "groupchat":
	case h.name == "iq" && (h.typ == "get" || h.typ == "set"):
	default:
		return
	}
	to := h.to
	if to == "" {
		to = s.full
	}
	s.srv.sm.counts.bounced.Add(1)
	s.srv.deliverTo(h.from, stanzaError(h.name, h.id, to, h.from, stanza.Wait, stanza.RecipientUnavailable, "the recipient's connection was lost before it got this"))
}

// smStoreOffline stores message b for the user; false when storage is off
// or refused it (the sender then gets the error).
func (s *session) smStoreOffline(h routedHead, b []byte) bool {
	srv := s.srv
	if srv.store() == nil {
		return false
	}
	err := srv.dbCall("offline", func(ctx context.Context) error {
		_, err := srv.store().Offline().Store(ctx, s.bare, h.from, time.Now(), b)
		return err
	})
	if err != nil {
		srv.logger().Warn("storage: an unacknowledged message was not stored; its sender gets an error", "jid", s.full, "err", err)
		return false
	}
	srv.db.offlineStored.Inc()
	return true
}

// deliverTo sends b to the full JID to, on this node or another of the
// cluster; nowhere when it is not bound.
func (srv *Server) deliverTo(to string, b []byte) {
	if t := srv.reg.lookup(to); t != nil {
		t.enqueue(b)
		return
	}
	if where, ok := srv.router.lookup(to); ok {
		srv.send(where, b, false)
	}
}
