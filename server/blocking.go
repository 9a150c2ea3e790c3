package server

import (
	"bytes"
	"context"
	"encoding/xml"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/storage"
)

// Blocking Command (XEP-0191): the user's block list, stored; pushes of
// every change to the resources that asked for the list; and the routing
// rule: nothing from a blocked JID reaches the user (an IQ request or a
// message is answered service-unavailable, presence vanishes), and nothing
// the user sends reaches it (not-acceptable with <blocked/>).

const (
	nsBlocking       = "urn:xmpp:blocking"
	nsBlockingErrors = "urn:xmpp:blocking:errors"
)

// blocks reports whether user blocks j (a full, bare or domain JID); false
// without storage.
func (s *Server) blocks(ctx context.Context, user, j string) (bool, error) {
	if s.store() == nil {
		return false, nil
	}
	list, err := s.blockList(ctx, user)
	return covers(list, j), err
}

// maxCachedBlockLists bounds the block lists kept in memory; past it the
// cache starts again empty.
const maxCachedBlockLists = 100000

// blockCache keeps users' block lists in memory where this process is the
// database's only writer (SQLite): every stanza between two users reads
// both lists. On PostgreSQL other nodes change lists too, so each read
// goes to the database.
type blockCache struct {
	mu    sync.RWMutex // writers of block lists hold it while they write and forget
	lists sync.Map     // bare JID -> []string
	n     atomic.Int64
}

// blockList returns user's block list.
func (s *Server) blockList(ctx context.Context, user string) ([]string, error) {
	st := s.store()
	if st.Backend() != storage.BackendSQLite {
		return st.BlockLists().List(ctx, user)
	}
	c := &s.db.blocks
	if v, ok := c.lists.Load(user); ok {
		return v.([]string), nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	list, err := st.BlockLists().List(ctx, user)
	if err != nil {
		return nil, err
	}
	if c.n.Add(1) > maxCachedBlockLists {
		c.lists.Clear()
		c.n.Store(0)
	}
	c.lists.Store(user, list)
	return list, nil
}

// cachedBlocks is user's block list when it is in memory.
func (s *Server) cachedBlocks(user string) ([]string, bool) {
	v, ok := s.db.blocks.lists.Load(user)
	if !ok {
		return nil, false
	}
	return v.([]string), true
}

// changeBlocks runs a change of user's block list and forgets the cached
// one, so that no read in between caches the list from before.
func (s *Server) changeBlocks(user string, change func() error) error {
	c := &s.db.blocks
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.lists.Delete(user)
	return change()
}

// refuseBlocked applies the block lists to a stanza the user sends to
// another user of this server; true when it must not be routed (and is
// answered here). A database that does not answer lets the stanza through,
// with a log line: blocking is not worth a lost message.
func (s *session) refuseBlocked(st *xmlStanza, to jid.JID) bool {
	srv := s.srv
	if srv.store() == nil || st.to == "" || to.Localpart() == "" || !s.local(to) {
		return false
	}
	recipient := to.Bare().String()
	if recipient == s.bare || st.typ == "error" {
		return false
	}
	mine, theirs, err := s.blockedEitherWay(to, recipient)
	switch {
	case err != nil:
		srv.logger().Warn("storage: block list not read, stanza routed", "jid", s.full, "err", err)
		return false
	case mine:
		// XEP-0191 section 3.6: the user is told the contact is blocked.
		if st.name != "presence" && !(st.name == "iq" && st.typ == "result") {
			var b bytes.Buffer
			openStanza(&b, st.name, "error", st.id, st.to, s.full)
			b.WriteString("<error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><blocked xmlns='" + nsBlockingErrors + "'/></error></" + st.name + ">")
			s.reply(b.Bytes())
		}
		return true
	case theirs:
		// XEP-0191 section 3.5: as if the user did not exist.
		if st.name == "iq" || (st.name == "message" && st.typ != "groupchat" && st.typ != "headline") {
			s.replyError(st, st.to, stanza.Cancel, stanza.ServiceUnavailable, "")
		}
		return true
	}
	return false
}

// covers is storage.Covers, without working out the entries that would
// cover j when the list is empty (most are: every stanza checks two).
func covers(list []string, j string) bool {
	return len(list) > 0 && storage.Covers(list, j)
}

// blockedEitherWay reports whether the user blocks to, and whether
// recipient (to's bare JID) blocks the user's full JID: from memory when
// both lists are there, else from the database under the deadline.
func (s *session) blockedEitherWay(to jid.JID, recipient string) (mine, theirs bool, err error) {
	srv := s.srv
	if a, ok := srv.cachedBlocks(s.bare); ok {
		if b, ok := srv.cachedBlocks(recipient); ok {
			if len(a) == 0 && len(b) == 0 {
				return false, false, nil // most users block nobody
			}
			return covers(a, to.String()), covers(b, s.full), nil
		}
	}
	err = srv.dbCall("blocking", func(ctx context.Context) error {
		var err error
		if mine, err = srv.blocks(ctx, s.bare, to.String()); err != nil || mine {
			return err
		}
		theirs, err = srv.blocks(ctx, recipient, s.full)
		return err
	})
	return mine, theirs, err
}

// blockingIQ answers a block list get, a block or an unblock.
func (s *session) blockingIQ(st *xmlStanza, child xml.StartElement, from string) {
	srv := s.srv
	if from != "" && from != s.bare {
		s.replyError(st, from, stanza.Cancel, stanza.Forbidden, "a block list is only its user's")
		return
	}
	if srv.store() == nil {
		s.replyError(st, from, stanza.Cancel, stanza.ServiceUnavailable, "this server keeps no block lists (no [storage])")
		return
	}
	bl := srv.store().BlockLists()
	switch {
	case st.typ == "get" && child.Name.Local == "blocklist":
		s.stored.blockInterest.Store(true)
		var list []string
		err := srv.dbCall("blocking", func(ctx context.Context) (err error) {
			list, err = srv.blockList(ctx, s.bare)
			return err
		})
		if err != nil {
			typ, cond, text := srv.storageError(err, stanza.ResourceConstraint)
			s.replyError(st, st.to, typ, cond, text)
			return
		}
		var b bytes.Buffer
		openStanza(&b, "iq", "result", st.id, st.to, s.full)
		b.WriteString("<blocklist xmlns='" + nsBlocking + "'>")
		appendBlockItems(&b, list)
		b.WriteString("</blocklist></iq>")
		s.reply(b.Bytes())
	case st.typ == "set" && (child.Name.Local == "block" || child.Name.Local == "unblock"):
		var jids []string
		for _, it := range payloadItems(st, nsBlocking) {
			j, err := jid.Parse(it.jid)
			if err != nil || it.jid == "" {
				s.replyError(st, st.to, stanza.Modify, stanza.JIDMalformed, "an item's jid is not a valid JID")
				return
			}
			jids = append(jids, j.String())
		}
		block := child.Name.Local == "block"
		if block && len(jids) == 0 {
			s.replyError(st, st.to, stanza.Modify, stanza.BadRequest, "a block names at least one JID")
			return
		}
		err := srv.dbCall("blocking", func(ctx context.Context) error {
			return srv.changeBlocks(s.bare, func() error {
				switch {
				case block:
					return bl.Block(ctx, s.bare, jids...)
				case len(jids) == 0:
					_, err := bl.UnblockAll(ctx, s.bare)
					return err
				}
				return bl.Unblock(ctx, s.bare, jids...)
			})
		})
		if err != nil {
			typ, cond, text := srv.storageError(err, stanza.NotAllowed)
			s.replyError(st, st.to, typ, cond, text)
			return
		}
		s.ackIQ(st)
		srv.pushBlocking(s.bare, child.Name.Local, jids)
		// Presence follows: the blocked contact sees the user go away, an
		// unblocked one sees the user again (XEP-0191 sections 3.3, 3.4).
		// Only contacts with a 'from' subscription ever had it.
		srv.dbCall("roster", func(ctx context.Context) error {
			for _, j := range jids {
				it, err := srv.store().Rosters().GetItem(ctx, s.bare, j)
				if err == nil && (it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth) {
					srv.presenceOfUserTo(s.bare, j, !block)
				}
			}
			return nil
		})
	default:
		s.replyError(st, st.to, stanza.Modify, stanza.BadRequest, "not a XEP-0191 request")
	}
}

func appendBlockItems(b *bytes.Buffer, jids []string) {
	for _, j := range jids {
		b.WriteString("<item")
		writeAttr(b, "jid", j)
		b.WriteString("/>")
	}
}

// pushBlocking tells the user's resources that asked for the block list
// (here, and on other nodes: see wantsPush) of a block or unblock
// (XEP-0191 sections 3.3, 3.4); an unblock without items is unblock-all.
func (s *Server) pushBlocking(user, what string, jids []string) {
	push := func(to string) []byte {
		var b bytes.Buffer
		openStanza(&b, "iq", "set", pushID(), "", to)
		b.WriteString("<" + what + " xmlns='" + nsBlocking + "'>")
		appendBlockItems(&b, jids)
		b.WriteString("</" + what + "></iq>")
		return b.Bytes()
	}
	for _, r := range s.reg.resources(user) {
		if r.stored.blockInterest.Load() {
			r.enqueue(push(r.full))
		}
	}
	for _, b := range s.router.bindings(user) {
		s.send(b.Node, push(b.JID), false)
	}
}
