package server

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/roster"
	"github.com/xtokend/xtokend/storage"
)

// Presence subscriptions (RFC 6121 sections 3 and 4) on the stored rosters.
// Both ends of a subscription are users of this server (or of this cluster,
// whose nodes share one database), so a subscription stanza is applied to
// the sender's roster (roster.Outbound) and, when it goes on, to the
// contact's (roster.Inbound) at once; what the contact's resources must see
// is then delivered here or routed to their nodes.
//
// Presence follows the subscriptions: a broadcast goes to the contacts with
// a 'from' subscription, the first one also asks for the presence of those
// with 'to' (the contacts' last presence, here or from their node) and
// brings the requests kept while the user was away; a client's probe is
// answered by the probed user's roster; a session that ends sends
// unavailable presence to the same contacts.

// routeSubscription handles a subscribe, subscribed, unsubscribe or
// unsubscribed the user sent to a local JID.
func (s *session) routeSubscription(st *xmlStanza, to jid.JID) error {
	kind, _ := roster.ParseKind(st.typ)
	contact := to.Bare().String()
	if contact == s.bare {
		return nil // a subscription to oneself is implied (RFC 6121 section 4.2.2)
	}
	err := s.srv.dbCall("roster", func(ctx context.Context) error {
		return s.subscriptionOut(ctx, contact, kind, st)
	})
	var ce *clientError
	if errors.As(err, &ce) {
		return err // the stanza, not the database
	}
	if err != nil {
		typ, cond, text := s.srv.storageError(err, stanza.ResourceConstraint)
		s.replyError(st, contact, typ, cond, text)
	}
	return nil
}

// subscriptionOut applies a subscription stanza the user sends to contact
// (st, or one the server makes for the user when st is nil) to both rosters.
func (s *session) subscriptionOut(ctx context.Context, contact string, kind roster.Kind, st *xmlStanza) error {
	srv := s.srv
	state, item, err := srv.subState(ctx, s.bare, contact)
	if err != nil {
		return err
	}
	out := roster.Outbound(state, kind, true)
	if err := srv.applyOutcome(ctx, s.bare, item, state, out); err != nil {
		return err
	}
	if out.Forward && srv.servesUser(contact) {
		b := subscriptionStanza(kind, s.bare, contact)
		if st != nil {
			if b, err = st.encode(s.bare, contact); err != nil {
				return &clientError{cond: condBadFormat, text: "stanza cannot be re-encoded"}
			}
		}
		if err := srv.subscriptionIn(ctx, contact, s.bare, kind, b); err != nil {
			return err
		}
	}
	// After the subscription stanza itself, so that the contact hears of
	// the approval before the presence it brings.
	if out.SendPresence || out.SendUnavailable {
		srv.presenceOfUserTo(s.bare, contact, out.SendPresence)
	}
	return nil
}

// subscriptionIn applies a subscription stanza from contact (a bare JID)
// to user's roster, and delivers it (b) where RFC 6121 says.
func (s *Server) subscriptionIn(ctx context.Context, user, contact string, kind roster.Kind, b []byte) error {
	if blocked, err := s.blocks(ctx, user, contact); err != nil || blocked {
		return err // a blocked contact's stanzas vanish (XEP-0191 section 3.5)
	}
	state, item, err := s.subState(ctx, user, contact)
	if err != nil {
		return err
	}
	out := roster.Inbound(state, kind)
	if err := s.applyOutcome(ctx, user, item, state, out); err != nil {
		return err
	}
	if out.StoreRequest {
		err := s.store().Rosters().AddRequest(ctx, user, storage.Request{Contact: contact, Stamp: time.Now(), Stanza: b})
		if err != nil && !errors.Is(err, storage.ErrLimit) {
			return err
		}
		// Past the cap the request is still delivered to whoever is
		// online; it is not kept for later.
	}
	if out.Forward {
		s.deliverToUser(user, b, -128)
	}
	if out.Reply != 0 {
		// Answered on the user's behalf: the contact is a user here.
		if err := s.subscriptionIn(ctx, contact, user, out.Reply, subscriptionStanza(out.Reply, user, contact)); err != nil {
			return err
		}
	}
	// After the answer, so that the contact hears of the approval before
	// the presence it brings.
	if out.SendPresence || out.SendUnavailable {
		s.presenceOfUserTo(user, contact, out.SendPresence)
	}
	return nil
}

// applyOutcome stores the new state of user's item and pushes it.
func (s *Server) applyOutcome(ctx context.Context, user string, item storage.Item, before roster.State, out roster.Outcome) error {
	n := out.State
	before.PendingIn = n.PendingIn // kept as a request, not in the item
	var ver int64
	if n.InRoster && n != before {
		item.Subscription = storage.Subscription(n.Sub.String())
		item.Ask, item.Approved = n.PendingOut, n.Approved
		var err error
		if ver, err = s.store().Rosters().Put(ctx, user, item); err != nil {
			return err
		}
	}
	if out.DropRequest {
		if _, err := s.store().Rosters().DeleteRequest(ctx, user, item.Contact); err != nil {
			return err
		}
	}
	if out.Push && ver != 0 {
		s.pushRoster(user, ver, item, false)
	}
	return nil
}

// subscriptionStanza is a subscription presence the server sends for a user.
func subscriptionStanza(kind roster.Kind, from, to string) []byte {
	var b bytes.Buffer
	openStanza(&b, "presence", kind.String(), "", from, to)
	b.WriteString("</presence>")
	return b.Bytes()
}

// deliverToUser queues an encoded stanza (addressed to bare) for bare's
// available resources of at least minPriority, here and on other nodes.
func (s *Server) deliverToUser(bare string, b []byte, minPriority int32) int {
	n := 0
	for _, r := range s.reg.resources(bare) {
		if r.available.Load() && r.priority.Load() >= minPriority {
			r.enqueue(b)
			n++
		}
	}
	var nodes []string
	for _, bnd := range s.router.bindings(bare) {
		if bnd.Available && int32(bnd.Priority) >= minPriority && !slices.Contains(nodes, bnd.Node) {
			nodes = append(nodes, bnd.Node)
			if s.send(bnd.Node, b, false) == nil {
				n++
			}
		}
	}
	return n
}

// presenceOfUserTo sends contact the current presence of each of user's
// available resources here (available), or unavailable presence from each
// of its available resources here and on other nodes. (The presence of a
// resource on another node is that node's: the contact gets it with that
// resource's next broadcast.)
func (s *Server) presenceOfUserTo(user, contact string, available bool) {
	for _, r := range s.reg.resources(user) {
		if !r.available.Load() {
			continue
		}
		if available {
			if p := r.presence.Load(); p != nil {
				s.deliverToUser(contact, presenceTo(*p, contact), -128)
			}
			continue
		}
		s.deliverToUser(contact, unavailableFrom(r.full, contact), -128)
	}
	if !available {
		for _, b := range s.router.bindings(user) {
			if b.Available {
				s.deliverToUser(contact, unavailableFrom(b.JID, contact), -128)
			}
		}
	}
}

func unavailableFrom(from, to string) []byte {
	var b bytes.Buffer
	openStanza(&b, "presence", "unavailable", "", from, to)
	b.WriteString("</presence>")
	return b.Bytes()
}

// presenceToContacts sends b, the user's broadcast presence (from s.full,
// without 'to'), to each contact with a 'from' subscription who has a
// resource online, and is not blocked either way. initial, the session's
// first available presence, also brings s the presence of the contacts it
// has a 'to' subscription to and the subscription requests kept for the
// user.
func (s *session) presenceToContacts(b []byte, initial bool) {
	srv := s.srv
	if srv.store() == nil {
		return
	}
	err := srv.dbCall("roster", func(ctx context.Context) error {
		ro, err := s.currentRoster(ctx)
		if err != nil {
			return err
		}
		blocked, err := srv.blockList(ctx, s.bare)
		if err != nil {
			return err
		}
		for it := range ro.All() {
			if covers(blocked, it.Contact) || it.Contact == s.bare {
				continue
			}
			if it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth {
				if srv.online(it.Contact) {
					if theyBlock, err := srv.blocks(ctx, it.Contact, s.full); err != nil {
						return err
					} else if !theyBlock {
						srv.deliverToUser(it.Contact, presenceTo(b, it.Contact), -128)
					}
				}
			}
			if initial && (it.Subscription == storage.SubTo || it.Subscription == storage.SubBoth) {
				s.probeContact(it.Contact)
			}
		}
		if !initial {
			return nil
		}
		reqs, err := srv.store().Rosters().Requests(ctx, s.bare)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			if !covers(blocked, r.Contact) {
				s.reply(r.Stanza)
			}
		}
		return nil
	})
	if err != nil {
		// Presence has no answer to carry an error: the log says it.
		srv.logger().Warn("storage: presence to contacts", "jid", s.full, "err", err)
	}
}

// servesUser reports whether bare is a user's JID on a host served here:
// one whose roster is in this server's database.
func (s *Server) servesUser(bare string) bool {
	j, err := jid.Parse(bare)
	return err == nil && j.Localpart() != "" && s.lookupHost(j.Domainpart()) != nil
}

// online reports whether bare has a resource bound here or on another node.
func (s *Server) online(bare string) bool {
	return s.reg.anyResource(bare) != nil || len(s.router.bindings(bare)) > 0
}

// probeContact brings s the presence of contact's available resources:
// from here at once, from other nodes by a probe their node answers. It
// says how many resources were found.
func (s *session) probeContact(contact string) int {
	n := 0
	for _, r := range s.srv.reg.resources(contact) {
		if r.available.Load() {
			if p := r.presence.Load(); p != nil {
				// The session's own read loop asked: it waits for room
				// (reply) rather than count against the queue of
				// stanzas from others, which 256 online contacts
				// would fill at once.
				s.reply(presenceTo(*p, s.full))
				n++
			}
		}
	}
	for _, b := range s.srv.router.bindings(contact) {
		if b.Available {
			var buf bytes.Buffer
			openStanza(&buf, "presence", "probe", "", s.full, b.JID)
			buf.WriteString("</presence>")
			s.srv.send(b.Node, buf.Bytes(), false)
			n++
		}
	}
	return n
}

// answerClientProbe answers a probe the user sent to contact (RFC 6121
// section 4.3.2): when the contact's roster gives the user a 'from'
// subscription, the presence of each of its available resources, or
// unavailable presence from its bare JID when it has none; nothing
// otherwise.
func (s *session) answerClientProbe(to jid.JID) {
	srv := s.srv
	if srv.store() == nil {
		return
	}
	contact := to.Bare().String()
	var sub storage.Subscription
	err := srv.dbCall("roster", func(ctx context.Context) error {
		it, err := srv.store().Rosters().GetItem(ctx, contact, s.bare)
		if err == nil {
			sub = it.Subscription
		}
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		srv.logger().Warn("storage: probe", "jid", s.full, "err", err)
		return
	}
	if sub != storage.SubFrom && sub != storage.SubBoth {
		return
	}
	if s.probeContact(contact) == 0 {
		s.reply(unavailableFrom(contact, s.full))
	}
}
