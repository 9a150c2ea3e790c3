package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/roster"
	"github.com/xtokend/xtokend/storage"
)

// Roster management (RFC 6121 section 2) with versioning (XEP-0237): a
// roster get answers the stored roster, or nothing when the client's ver is
// current; a roster set adds, updates or removes one item and pushes it to
// every interested resource of the user (those that asked for the roster),
// here and on the other nodes of a cluster.

const nsRoster = "jabber:iq:roster"

// storedFlags are what a session asked of the stored features.
type storedFlags struct {
	rosterInterest atomic.Bool // sent a roster get: gets roster pushes
	blockInterest  atomic.Bool // sent a block list get: gets block pushes
	// roster is the user's roster as this session last read it, in the
	// database's text (a string and four bytes an item, not an Item each).
	// Each use checks its version against the database's first, so a
	// change made anywhere (another session, the admin API, another node)
	// is seen.
	roster atomic.Pointer[storage.RosterText]
}

// currentRoster returns the user's roster: the one the session read last
// when its version is still the database's (one row read rather than every
// item: a login reads the roster for its get, its initial presence and its
// unavailable presence), else read anew.
func (s *session) currentRoster(ctx context.Context) (storage.RosterText, error) {
	last := s.stored.roster.Load()
	if last == nil {
		return s.readRoster(ctx)
	}
	v, err := s.srv.store().Rosters().Version(ctx, s.bare)
	if err != nil {
		return storage.RosterText{}, err
	}
	return s.rosterAt(ctx, v)
}

// rosterAt is currentRoster when the database's version v was just read.
func (s *session) rosterAt(ctx context.Context, v int64) (storage.RosterText, error) {
	if last := s.stored.roster.Load(); last != nil && last.Version == v {
		return *last, nil
	}
	return s.readRoster(ctx)
}

// readRoster reads the user's roster and keeps it for the next uses.
func (s *session) readRoster(ctx context.Context) (storage.RosterText, error) {
	ro, err := s.srv.store().Rosters().GetText(ctx, s.bare)
	if err == nil {
		s.stored.roster.Store(&ro)
	}
	return ro, err
}

// queryItem is one <item/> of a roster or blocking payload.
type queryItem struct {
	jid, name, subscription string
	hasName                 bool
	groups                  []string
}

// payloadItems reads the <item/> children of the IQ's payload (its first
// child), with their <group/> children, in namespace ns.
func payloadItems(st *xmlStanza, ns string) []queryItem {
	var (
		items   []queryItem
		depth   int
		started bool
		group   *bytes.Buffer
	)
	for _, t := range st.inner {
		switch t := t.(type) {
		case xml.StartElement:
			depth++
			started = true
			switch {
			case depth == 2 && t.Name.Space == ns && t.Name.Local == "item":
				var it queryItem
				for _, a := range t.Attr {
					if a.Name.Space != "" {
						continue
					}
					switch a.Name.Local {
					case "jid":
						it.jid = a.Value
					case "name":
						it.name, it.hasName = a.Value, true
					case "subscription":
						it.subscription = a.Value
					}
				}
				items = append(items, it)
			case depth == 3 && t.Name.Space == ns && t.Name.Local == "group" && len(items) > 0:
				group = &bytes.Buffer{}
			}
		case xml.CharData:
			if group != nil {
				group.Write(t)
			}
		case xml.EndElement:
			if depth == 3 && group != nil {
				last := &items[len(items)-1]
				last.groups = append(last.groups, group.String())
				group = nil
			}
			depth--
		}
		if started && depth == 0 {
			break // the payload's end: other children are not ours
		}
	}
	return items
}

// rosterIQ answers a roster get or set the user sent about their own roster.
func (s *session) rosterIQ(st *xmlStanza, child xml.StartElement, from string) {
	if from != "" && from != s.bare {
		s.replyError(st, from, stanza.Cancel, stanza.Forbidden, "a roster is only its user's")
		return
	}
	if s.srv.store() == nil {
		s.replyError(st, from, stanza.Cancel, stanza.ServiceUnavailable, "this server keeps no rosters (no [storage])")
		return
	}
	if st.typ == "get" {
		s.rosterGet(st, child)
		return
	}
	s.rosterSet(st)
}

func (s *session) rosterGet(st *xmlStanza, child xml.StartElement) {
	s.stored.rosterInterest.Store(true)
	var (
		ro      storage.RosterText
		changed = true
	)
	err := s.srv.dbCall("roster", func(ctx context.Context) error {
		var err error
		for _, a := range child.Attr {
			if a.Name.Local == "ver" && a.Name.Space == "" {
				if v, perr := strconv.ParseInt(a.Value, 10, 64); perr == nil {
					cur, err := s.srv.store().Rosters().Version(ctx, s.bare)
					if err != nil {
						return err
					}
					if cur == v {
						changed = false
						return nil
					}
					ro, err = s.rosterAt(ctx, cur)
					return err
				}
			}
		}
		ro, err = s.currentRoster(ctx)
		return err
	})
	if err != nil {
		typ, cond, text := s.srv.storageError(err, stanza.ResourceConstraint)
		s.replyError(st, st.to, typ, cond, text)
		return
	}
	var b bytes.Buffer
	if changed {
		b.Grow(rosterSize(ro)) // one allocation for the answer, not a doubling per few items
	}
	openStanza(&b, "iq", "result", st.id, st.to, s.full)
	if changed {
		// XEP-0237 section 4: the whole roster with its version; an
		// unchanged one is an empty result, the pushes bring the rest.
		b.WriteString("<query xmlns='" + nsRoster + "' ver='" + strconv.FormatInt(ro.Version, 10) + "'>")
		for i := range ro.Len() { // an index loop: a tenth faster than ranging over All
			appendRosterItemText(&b, ro.Item(i))
		}
		b.WriteString("</query>")
	}
	b.WriteString("</iq>")
	s.reply(b.Bytes())
}

// rosterSet adds, updates or removes one item (RFC 6121 sections 2.3-2.5).
func (s *session) rosterSet(st *xmlStanza) {
	items := payloadItems(st, nsRoster)
	if len(items) != 1 {
		s.replyError(st, st.to, stanza.Modify, stanza.BadRequest, "a roster set has exactly one item")
		return
	}
	it := items[0]
	contact, err := jid.Parse(it.jid)
	if err != nil || it.jid == "" {
		s.replyError(st, st.to, stanza.Modify, stanza.BadRequest, "the item's jid is not a valid JID")
		return
	}
	c := contact.String()
	if it.subscription == "remove" {
		s.rosterRemove(st, c)
		return
	}
	err = s.srv.dbCall("roster", func(ctx context.Context) error {
		cur, err := s.srv.store().Rosters().GetItem(ctx, s.bare, c)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			cur = storage.Item{Contact: c, Subscription: storage.SubNone}
		case err != nil:
			return err
		}
		// The client sets name and groups; subscription and ask are the
		// server's (RFC 6121 section 2.1.2.5), so they are kept.
		cur.Name, cur.Groups = it.name, it.groups
		ver, err := s.srv.store().Rosters().Put(ctx, s.bare, cur)
		if err != nil {
			return err
		}
		s.ackIQ(st)
		s.srv.pushRoster(s.bare, ver, cur, false)
		return nil
	})
	if err != nil {
		s.rosterSetError(st, err)
	}
}

// rosterSetError answers a failed roster set: the item cap is not-allowed
// (RFC 6121 section 2.3.3), a name or group over its length
// policy-violation, both with the store's text.
func (s *session) rosterSetError(st *xmlStanza, err error) {
	typ, cond, text := s.srv.storageError(err, stanza.PolicyViolation)
	if errors.Is(err, storage.ErrLimit) {
		typ = stanza.Modify
		if strings.Contains(text, "the roster has") {
			typ, cond = stanza.Cancel, stanza.NotAllowed
		}
	}
	if errors.Is(err, storage.ErrInvalid) {
		text = "the item's name or a group is not allowed (empty, repeated or not XML text)"
	}
	s.replyError(st, st.to, typ, cond, text)
}

// rosterRemove removes the item for contact: the contact loses its
// subscriptions both ways first (RFC 6121 section 2.5.2).
func (s *session) rosterRemove(st *xmlStanza, contact string) {
	err := s.srv.dbCall("roster", func(ctx context.Context) error {
		state, _, err := s.srv.subState(ctx, s.bare, contact)
		if err != nil {
			return err
		}
		if !state.InRoster {
			return storage.ErrNotFound
		}
		if state.Sub&roster.To != 0 || state.PendingOut {
			s.subscriptionOut(ctx, contact, roster.Unsubscribe, nil)
		}
		if state.Sub&roster.From != 0 || state.PendingIn {
			s.subscriptionOut(ctx, contact, roster.Unsubscribed, nil)
		}
		ver, err := s.srv.store().Rosters().Delete(ctx, s.bare, contact)
		if err != nil {
			return err
		}
		s.ackIQ(st)
		s.srv.pushRoster(s.bare, ver, storage.Item{Contact: contact}, true)
		return nil
	})
	if err != nil {
		typ, cond, text := s.srv.storageError(err, stanza.NotAllowed)
		s.replyError(st, st.to, typ, cond, text)
	}
}

// ackIQ sends the empty result of an IQ set.
func (s *session) ackIQ(st *xmlStanza) {
	var b bytes.Buffer
	openStanza(&b, "iq", "result", st.id, st.to, s.full)
	b.WriteString("</iq>")
	s.reply(b.Bytes())
}

// appendRosterItem writes one <item/> of a roster push.
func appendRosterItem(b *bytes.Buffer, it storage.Item) {
	appendItemOpen(b, it.Contact, it.Name, it.Subscription, it.Ask, it.Approved)
	if len(it.Groups) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	for _, g := range it.Groups {
		appendGroup(b, g)
	}
	b.WriteString("</item>")
}

// appendRosterItemText writes one <item/> of a roster result, straight
// from the roster's text.
func appendRosterItemText(b *bytes.Buffer, it storage.ItemText) {
	appendItemOpen(b, it.Contact, it.Name, it.Subscription, it.Ask, it.Approved)
	if !it.HasGroups() {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	for g := range it.Groups() {
		appendGroup(b, g)
	}
	b.WriteString("</item>")
}

// appendItemOpen writes an <item/>'s start tag without its end.
func appendItemOpen(b *bytes.Buffer, contact, name string, sub storage.Subscription, ask, approved bool) {
	b.WriteString("<item")
	writeItemAttr(b, "jid", contact)
	if name != "" {
		writeItemAttr(b, "name", name)
	}
	writeItemAttr(b, "subscription", string(sub))
	if ask {
		b.WriteString(" ask='subscribe'")
	}
	if approved {
		b.WriteString(" approved='true'")
	}
}

func appendGroup(b *bytes.Buffer, g string) {
	b.WriteString("<group>")
	writeEscaped(b, g)
	b.WriteString("</group>")
}

// rosterSize is the bytes of a roster answer's items when their values
// need no escaping, and room for its envelope: one allocation of about
// the answer's size.
func rosterSize(ro storage.RosterText) int {
	const (
		itemText  = len("<item jid='' name='' subscription=''></item>")
		groupText = len("<group></group>")
		flagText  = len(" ask='subscribe'") // as long as " approved='true'"
	)
	return 256 + ro.ValuesSize() + itemText*ro.Len() + groupText*ro.GroupCount() + flagText*ro.FlagCount()
}

func writeItemAttr(b *bytes.Buffer, name, value string) {
	b.WriteString(" ")
	b.WriteString(name)
	b.WriteString("='")
	writeEscaped(b, value)
	b.WriteString("'")
}

// writeEscaped writes s as XML text or attribute value. Most roster values
// are plain ASCII, written as they are; others go through the encoding/xml
// escaper, which also replaces what XML cannot carry.
func writeEscaped(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if !plainXML[s[i]] {
			xml.EscapeText(b, []byte(s))
			return
		}
	}
	b.WriteString(s)
}

// plainXML are the bytes writeEscaped writes as they are: printable ASCII
// but for XML's markup and quotes. A table, as a roster answer looks at
// every byte of every value.
var plainXML = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`&<>'"`, rune(c))
	}
	return t
}()

// pushRoster sends a roster push of one item at version ver to each of
// user's interested resources here, and to each of its resources on other
// nodes, whose node drops it for those that did not ask (wantsPush).
// removed pushes subscription='remove'.
func (s *Server) pushRoster(user string, ver int64, it storage.Item, removed bool) {
	var item bytes.Buffer
	if removed {
		item.WriteString("<item")
		writeAttr(&item, "jid", it.Contact)
		item.WriteString(" subscription='remove'/>")
	} else {
		appendRosterItem(&item, it)
	}
	push := func(to string) []byte {
		var b bytes.Buffer
		openStanza(&b, "iq", "set", pushID(), "", to)
		b.WriteString("<query xmlns='" + nsRoster + "' ver='" + strconv.FormatInt(ver, 10) + "'>")
		b.Write(item.Bytes())
		b.WriteString("</query></iq>")
		return b.Bytes()
	}
	for _, r := range s.reg.resources(user) {
		if r.stored.rosterInterest.Load() {
			r.enqueue(push(r.full))
		}
	}
	for _, b := range s.router.bindings(user) {
		s.send(b.Node, push(b.JID), false)
	}
}

// wantsPush is false for a roster or block list push (an IQ set the
// server made: no 'from') that another node routed to s, which never asked
// for that list: the other node sends pushes to every resource of the user
// it does not have, and this node knows which of its own asked.
func (s *session) wantsPush(h routedHead, b []byte) bool {
	if h.name != "iq" || h.typ != "set" || h.from != "" {
		return true
	}
	switch {
	case bytes.Contains(b, []byte("'"+nsRoster+"'")):
		return s.stored.rosterInterest.Load()
	case bytes.Contains(b, []byte("'"+nsBlocking+"'")):
		return s.stored.blockInterest.Load()
	}
	return true
}

// pushID is the id of a server-initiated IQ: the client's answer to it is
// dropped, so it only has to be unique enough to be told apart.
func pushID() string {
	var b [6]byte
	rand.Read(b[:])
	return "push-" + hex.EncodeToString(b[:])
}

// storedIQ answers the IQs of the stored features, roster and blocking;
// false for any other.
func (s *session) storedIQ(st *xmlStanza, child xml.StartElement, from string) bool {
	switch {
	case child.Name.Space == nsRoster && child.Name.Local == "query":
		s.rosterIQ(st, child, from)
	case child.Name.Space == nsBlocking:
		s.blockingIQ(st, child, from)
	default:
		return false
	}
	return true
}

// storedFeatures are the disco#info features storage adds to a host's:
// blocking (XEP-0191) and offline messages (XEP-0160).
func (s *Server) storedFeatures(isHost bool) string {
	if !isHost || s.store() == nil {
		return ""
	}
	return "<feature var='" + nsBlocking + "'/><feature var='msgoffline'/>"
}

// featuresBindRosterVer is featuresBind with XEP-0237's roster versioning,
// RFC 6121 section 3.4's subscription pre-approval and stream management.
const featuresBindRosterVer = "<stream:features><bind xmlns='" + nsBind + "'></bind><ver xmlns='urn:xmpp:features:rosterver'/><sub xmlns='urn:xmpp:features:pre-approval'/>" + featureSM + "</stream:features>"

// bindFeatures are the features after SASL: roster versioning and
// pre-approval are offered when there are rosters.
func (s *Server) bindFeatures() string {
	if s.store() != nil {
		return featuresBindRosterVer
	}
	return featuresBind
}
