package server_test

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server/adminclient"
	"github.com/xtokend/xtokend/server/servertest"
	"github.com/xtokend/xtokend/storage"
)

// storedServer starts a server with SQLite storage in its temporary folder;
// edit, when set, changes the [storage] options (caps).
func storedServer(t *testing.T, edit func(*storage.Options)) *servertest.Server {
	t.Helper()
	o := storage.DefaultOptions()
	if edit != nil {
		edit(&o)
	}
	return servertest.Start(t, servertest.Options{Storage: &o})
}

// iqReply sends an IQ and returns the answer with the same id.
func iqReply(c *client, id, format string, args ...any) *elem {
	c.t.Helper()
	c.send(format, args...)
	return c.nextMatching(func(e *elem) bool { return e.XMLName.Local == "iq" && e.attr("id") == id })
}

func isRosterPush(e *elem) bool {
	q := e.find("query")
	return e.XMLName.Local == "iq" && e.attr("type") == "set" && q != nil && q.XMLName.Space == "jabber:iq:roster"
}

func isStanzaError(e *elem, cond string) bool {
	return e.attr("type") == "error" && e.find(cond) != nil
}

// items maps a roster result's or push's items by jid.
func items(e *elem) map[string]*elem {
	out := map[string]*elem{}
	if q := e.find("query"); q != nil {
		for i := range q.Children {
			if it := &q.Children[i]; it.XMLName.Local == "item" {
				out[it.attr("jid")] = it
			}
		}
	}
	return out
}

func TestRosterGetSetPush(t *testing.T) {
	ts := storedServer(t, func(o *storage.Options) {
		o.MaxRosterItems, o.MaxNameLength = 2, 10
	})
	a1 := login(t, ts, "alice@localhost", "a1", loginOpts{})
	a2 := login(t, ts, "alice@localhost", "a2", loginOpts{}) // never asks for the roster: no pushes

	res := iqReply(a1, "g0", `<iq type='get' id='g0'><query xmlns='jabber:iq:roster'/></iq>`)
	if res.attr("type") != "result" || res.find("query") == nil || res.find("query").attr("ver") != "0" || len(items(res)) != 0 {
		t.Fatalf("first get: %s", res)
	}

	res = iqReply(a1, "s1", `<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group><group>Work</group></item></query></iq>`)
	if res.attr("type") != "result" {
		t.Fatalf("set: %s", res)
	}
	push := a1.nextMatching(isRosterPush)
	it := items(push)["bob@localhost"]
	if it == nil || it.attr("name") != "Bob" || it.attr("subscription") != "none" || len(it.Children) != 2 || push.find("query").attr("ver") != "1" {
		t.Fatalf("push: %s", push)
	}

	// XEP-0237: the current version gets an empty result, an older one
	// the roster.
	res = iqReply(a1, "g1", `<iq type='get' id='g1'><query xmlns='jabber:iq:roster' ver='1'/></iq>`)
	if res.attr("type") != "result" || res.find("query") != nil {
		t.Errorf("get at the current version: %s", res)
	}
	res = iqReply(a1, "g2", `<iq type='get' id='g2'><query xmlns='jabber:iq:roster' ver='0'/></iq>`)
	if it := items(res)["bob@localhost"]; it == nil || it.attr("name") != "Bob" || res.find("query").attr("ver") != "1" {
		t.Errorf("get at an old version: %s", res)
	}

	for _, tc := range []struct{ name, set, cond string }{
		{"two items", `<item jid='c@localhost'/><item jid='d@localhost'/>`, "bad-request"},
		{"no jid", `<item name='x'/>`, "bad-request"},
		{"bad jid", `<item jid='@@'/>`, "bad-request"},
		{"group twice", `<item jid='c@localhost'><group>G</group><group>G</group></item>`, "bad-request"},
		{"name too long", `<item jid='c@localhost' name='abcdefghijklmnop'/>`, "policy-violation"},
		{"remove unknown", `<item jid='nobody@localhost' subscription='remove'/>`, "item-not-found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := iqReply(a1, "e", `<iq type='set' id='e'><query xmlns='jabber:iq:roster'>%s</query></iq>`, tc.set)
			if !isStanzaError(res, tc.cond) {
				t.Errorf("got %s, want %s", res, tc.cond)
			}
		})
	}
	// The cap of 2 items: the third is not-allowed, with text.
	iqReply(a1, "s2", `<iq type='set' id='s2'><query xmlns='jabber:iq:roster'><item jid='carol@localhost'/></query></iq>`)
	res = iqReply(a1, "s3", `<iq type='set' id='s3'><query xmlns='jabber:iq:roster'><item jid='dave@localhost'/></query></iq>`)
	if !isStanzaError(res, "not-allowed") || res.find("text") == nil || !strings.Contains(res.find("text").Text, "2 items") {
		t.Errorf("over the cap: %s", res)
	}
	// Addressed to the user's own bare JID: answered from it.
	res = iqReply(a1, "own", `<iq type='get' id='own' to='alice@localhost'><query xmlns='jabber:iq:roster'/></iq>`)
	if res.attr("type") != "result" || res.attr("from") != "alice@localhost" || items(res)["bob@localhost"] == nil {
		t.Errorf("get addressed to the bare JID: %s", res)
	}
	// Someone else's roster is not one's own.
	res = iqReply(a1, "o", `<iq type='get' id='o' to='bob@localhost'><query xmlns='jabber:iq:roster'/></iq>`)
	if !isStanzaError(res, "forbidden") {
		t.Errorf("another user's roster: %s", res)
	}

	res = iqReply(a1, "r", `<iq type='set' id='r'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>`)
	if res.attr("type") != "result" {
		t.Fatalf("remove: %s", res)
	}
	push = a1.nextMatching(func(e *elem) bool { return isRosterPush(e) && items(e)["bob@localhost"] != nil })
	if items(push)["bob@localhost"].attr("subscription") != "remove" {
		t.Errorf("remove push: %s", push)
	}
	// a2 never asked for the roster: its next stanza is its ping's answer.
	if e := a2.ping("a2"); e.attr("type") != "result" {
		t.Errorf("a2: %s", e)
	}
}

// TestSubscriptionFlow: two users subscribe to each other (RFC 6121
// section 3), see each other's presence, and a request made while its
// recipient was away is delivered at the next login.
func TestSubscriptionFlow(t *testing.T) {
	ts := storedServer(t, nil)
	alice := login(t, ts, "alice@localhost", "a", loginOpts{})
	bob := login(t, ts, "bob@localhost", "b", loginOpts{})
	for _, c := range []*client{alice, bob} {
		iqReply(c, "r", `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
		c.send(`<presence/>`)
		c.ping("avail")
	}

	alice.send(`<presence type='subscribe' to='bob@localhost'><status>hi</status></presence>`)
	push := alice.nextMatching(isRosterPush)
	if it := items(push)["bob@localhost"]; it == nil || it.attr("ask") != "subscribe" || it.attr("subscription") != "none" {
		t.Fatalf("alice's push: %s", push)
	}
	req := bob.nextMatching(func(e *elem) bool { return e.XMLName.Local == "presence" && e.attr("type") == "subscribe" })
	if req.attr("from") != "alice@localhost" || req.find("status") == nil {
		t.Fatalf("bob got %s", req)
	}

	bob.send(`<presence type='subscribed' to='alice@localhost'/>`)
	if it := items(bob.nextMatching(isRosterPush))["alice@localhost"]; it == nil || it.attr("subscription") != "from" {
		t.Fatalf("bob's push: %v", it)
	}
	// The approval and the push, in either order.
	for seen := 0; seen != 3; {
		e := alice.next()
		switch {
		case e.attr("type") == "subscribed":
			if e.attr("from") != "bob@localhost" {
				t.Fatalf("alice got %s", e)
			}
			seen |= 1
		case isRosterPush(e):
			if it := items(e)["bob@localhost"]; it == nil || it.attr("subscription") != "to" || it.attr("ask") != "" {
				t.Fatalf("alice's push: %s", e)
			}
			seen |= 2
		}
	}
	// Approved: bob's presence comes to alice.
	if e := alice.nextMatching(func(e *elem) bool { return e.XMLName.Local == "presence" && e.attr("from") == bob.jid.String() }); e.attr("type") != "" {
		t.Fatalf("alice got %s", e)
	}

	// The other way round.
	bob.send(`<presence type='subscribe' to='alice@localhost'/>`)
	alice.nextMatching(func(e *elem) bool { return e.attr("type") == "subscribe" && e.attr("from") == "bob@localhost" })
	alice.send(`<presence type='subscribed' to='bob@localhost'/>`)
	if it := items(alice.nextMatching(func(e *elem) bool { return isRosterPush(e) && items(e)["bob@localhost"].attr("subscription") == "both" }))["bob@localhost"]; it == nil {
		t.Fatal("no push of both")
	}
	if e := bob.nextMatching(func(e *elem) bool { return e.XMLName.Local == "presence" && e.attr("from") == alice.jid.String() }); e.attr("type") != "" {
		t.Fatalf("bob got %s", e)
	}

	// A presence change reaches the subscriber; a probe is answered; the
	// end of a session is unavailable presence.
	alice.send(`<presence><show>away</show></presence>`)
	if e := bob.nextMatching(func(e *elem) bool { return e.attr("from") == alice.jid.String() }); e.find("show") == nil {
		t.Fatalf("bob got %s", e)
	}
	bob.send(`<presence type='probe' to='alice@localhost'/>`)
	if e := bob.nextMatching(func(e *elem) bool { return e.attr("from") == alice.jid.String() }); e.find("show") == nil || e.find("show").Text != "away" {
		t.Fatalf("probe answered with %s", e)
	}
	alice.close()
	if e := bob.nextMatching(func(e *elem) bool { return e.attr("from") == alice.jid.String() }); e.attr("type") != "unavailable" {
		t.Fatalf("bob got %s", e)
	}

	// A request to a user who is away waits for the next login's
	// presence.
	bob.send(`<presence type='subscribe' to='carol@localhost'><status>it is bob</status></presence>`)
	bob.ping("sent")
	carol := login(t, ts, "carol@localhost", "c", loginOpts{})
	carol.send(`<presence/>`)
	if e := carol.nextMatching(func(e *elem) bool { return e.attr("type") == "subscribe" }); e.attr("from") != "bob@localhost" || e.find("status") == nil {
		t.Fatalf("carol got %s", e)
	}
	// Denied: bob's pending out is cleared.
	carol.send(`<presence type='unsubscribed' to='bob@localhost'/>`)
	if it := items(bob.nextMatching(func(e *elem) bool { return isRosterPush(e) && items(e)["carol@localhost"] != nil }))["carol@localhost"]; it.attr("ask") != "" || it.attr("subscription") != "none" {
		t.Fatalf("bob's push: %s", it)
	}
	// No subscription, no presence: a probe of carol is not answered.
	bob.send(`<presence type='probe' to='carol@localhost'/>`)
	if e := bob.ping("after-probe"); e.attr("type") != "result" {
		t.Fatalf("bob got %s", e)
	}
}

// TestPreApproval: a subscribed sent before any request pre-approves it
// (RFC 6121 section 3.4): the item shows approved='true', and the request
// that follows is answered by the server with no word from the user. The
// stream features after SASL offer it, with roster versioning.
func TestPreApproval(t *testing.T) {
	ts := storedServer(t, nil)

	// The features after SASL, read raw.
	token := ts.Mint(t, "alice@localhost")
	raw := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	raw.d = xml.NewDecoder(raw.conn)
	raw.expect("features")
	fmt.Fprintf(raw.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>",
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+token)))
	raw.expect("success")
	fmt.Fprintf(raw.conn, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='localhost'>")
	f := raw.expect("features")
	if v, sub := f.find("ver"), f.find("sub"); v == nil || v.XMLName.Space != "urn:xmpp:features:rosterver" || sub == nil || sub.XMLName.Space != "urn:xmpp:features:pre-approval" {
		t.Errorf("features after SASL: %s", f)
	}
	raw.conn.Close()

	alice := login(t, ts, "alice@localhost", "", loginOpts{})
	iqReply(alice, "r", `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	alice.send(`<presence/>`)
	alice.send(`<presence type='subscribed' to='carol@localhost'/>`)
	if it := items(alice.nextMatching(isRosterPush))["carol@localhost"]; it == nil || it.attr("approved") != "true" || it.attr("subscription") != "none" {
		t.Fatalf("pre-approval push: %v", it)
	}
	carol := login(t, ts, "carol@localhost", "", loginOpts{})
	iqReply(carol, "r", `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	carol.send(`<presence/>`)
	carol.send(`<presence type='subscribe' to='alice@localhost'/>`)
	if e := carol.nextMatching(func(e *elem) bool { return e.attr("type") == "subscribed" }); e.attr("from") != "alice@localhost" {
		t.Fatalf("carol got %s", e)
	}
	if e := carol.nextMatching(func(e *elem) bool { return isPresence(e) && e.attr("from") == alice.jid.String() }); e.attr("type") != "" {
		t.Fatalf("carol got %s", e)
	}
	if it := items(alice.nextMatching(func(e *elem) bool {
		return isRosterPush(e) && items(e)["carol@localhost"].attr("subscription") == "from"
	}))["carol@localhost"]; it.attr("approved") != "" {
		t.Errorf("after the request: %s", it)
	}
}

// TestRosterRemoveCancels: removing a contact with a mutual subscription
// cancels both directions (RFC 6121 section 2.5.2): the contact gets
// unsubscribe, unsubscribed and the user's unavailable presence, and its
// item falls to none; blocking and unblocking a subscriber takes the
// user's presence away and gives it back (XEP-0191 sections 3.3, 3.4).
func TestRosterRemoveCancels(t *testing.T) {
	o := storage.DefaultOptions()
	ts := servertest.Start(t, servertest.Options{Storage: &o, Configure: func(c *config.Config) {
		c.General.AdminSocket = "xtokend.sock"
	}})
	api := adminclient.New(ts.Config.AdminSocketPath())
	defer api.Close()
	alice := login(t, ts, "alice@localhost", "", loginOpts{})
	bob := login(t, ts, "bob@localhost", "", loginOpts{}) // the admin socket listens by now
	if _, err := api.PutRosterItem(context.Background(), "alice@localhost", "bob@localhost", adminclient.RosterItem{Subscription: "both"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{bob, alice} {
		iqReply(c, "r", `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
		c.send(`<presence/>`)
		c.ping("avail")
	}
	if e := bob.nextMatching(isPresence); e.attr("from") != alice.jid.String() || e.attr("type") != "" {
		t.Fatalf("bob got %s", e)
	}

	// Blocked: bob sees alice go; unblocked: back.
	iqReply(alice, "b", `<iq type='set' id='b'><block xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></block></iq>`)
	if e := bob.nextMatching(isPresence); e.attr("from") != alice.jid.String() || e.attr("type") != "unavailable" {
		t.Fatalf("after the block bob got %s", e)
	}
	iqReply(alice, "u", `<iq type='set' id='u'><unblock xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></unblock></iq>`)
	if e := bob.nextMatching(isPresence); e.attr("from") != alice.jid.String() || e.attr("type") != "" {
		t.Fatalf("after the unblock bob got %s", e)
	}

	res := iqReply(alice, "rm", `<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>`)
	if res.attr("type") != "result" {
		t.Fatalf("remove: %s", res)
	}
	got := map[string]bool{}
	for len(got) < 4 {
		e := bob.next()
		switch {
		case isPresence(e) && e.attr("from") == "alice@localhost" && (e.attr("type") == "unsubscribe" || e.attr("type") == "unsubscribed"):
			got[e.attr("type")] = true
		case isPresence(e) && e.attr("from") == alice.jid.String() && e.attr("type") == "unavailable":
			got["unavailable"] = true
		case isRosterPush(e) && items(e)["alice@localhost"] != nil && items(e)["alice@localhost"].attr("subscription") == "none":
			got["push none"] = true
		}
	}
	ro, err := api.Roster(context.Background(), "bob@localhost")
	if err != nil || len(ro.Items) != 1 || ro.Items[0].Subscription != "none" {
		t.Errorf("bob's roster after the removal: %+v, %v", ro, err)
	}
	if ro, err := api.Roster(context.Background(), "alice@localhost"); err != nil || len(ro.Items) != 0 {
		t.Errorf("alice's roster after the removal: %+v, %v", ro, err)
	}
}
