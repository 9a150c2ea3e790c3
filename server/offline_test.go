package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/server/servertest"
	"github.com/xtokend/xtokend/storage"
)

// TestOfflineMessages: chat and normal messages to a user with no
// available resource wait, up to the cap, and come in order with <delay/>
// at the user's next available presence; other types never wait.
func TestOfflineMessages(t *testing.T) {
	ts := storedServer(t, func(o *storage.Options) { o.MaxOfflineMessages = 3 })
	alice := login(t, ts, "alice@localhost", "a", loginOpts{})

	for _, tc := range []struct{ typ, id, cond string }{
		{"chat", "m1", ""},
		{"normal", "m2", ""},
		{"headline", "h", ""}, // dropped, never stored
		{"groupchat", "g", "service-unavailable"},
		{"", "m3", ""},
		{"chat", "state", ""}, // no body: dropped (see below)
		{"chat", "nostore", "service-unavailable"},
		{"chat", "m4", "service-unavailable"}, // over the cap of 3
	} {
		typ := ""
		if tc.typ != "" {
			typ = fmt.Sprintf(" type='%s'", tc.typ)
		}
		payload := "<body>" + tc.id + "</body>"
		switch tc.id {
		case "state":
			payload = "<active xmlns='http://jabber.org/protocol/chatstates'/>"
		case "nostore":
			payload += "<no-store xmlns='urn:xmpp:hints'/>"
		}
		alice.send(`<message to='bob@localhost/gone'%s id='%s'>%s</message>`, typ, tc.id, payload)
		if tc.cond != "" {
			if e := alice.nextMatching(isMessage); !isStanzaError(e, tc.cond) || e.attr("id") != tc.id {
				t.Errorf("%s: got %s, want %s", tc.id, e, tc.cond)
			}
		}
	}
	if e := alice.ping("sent"); e.attr("type") != "result" {
		t.Fatalf("ping: %s", e)
	}
	if n := offlineStored(t, ts); n != 3 {
		t.Errorf("xtokend_offline_stored_total = %v, want 3", n)
	}

	// Bound but not available: still offline.
	bob := login(t, ts, "bob@localhost", "b", loginOpts{})
	alice.send(`<message to='bob@localhost' type='chat' id='x'><body>x</body></message>`)
	if e := alice.nextMatching(isMessage); !isStanzaError(e, "service-unavailable") {
		t.Errorf("fourth message with bob bound but unavailable: %s", e)
	}
	before := time.Now().UTC().Add(-time.Minute)
	bob.send(`<presence/>`)
	for _, want := range []string{"m1", "m2", "m3"} {
		m := bob.nextMatching(isMessage)
		d := m.find("delay")
		if m.find("body") == nil || m.find("body").Text != want || m.attr("from") != alice.jid.String() || d == nil ||
			d.XMLName.Space != "urn:xmpp:delay" || d.attr("from") != "localhost" {
			t.Fatalf("got %s, want %s with a delay", m, want)
		}
		stamp, err := time.Parse(time.RFC3339, d.attr("stamp"))
		if err != nil || stamp.Before(before) || stamp.After(time.Now().Add(time.Minute)) {
			t.Errorf("stamp %q: %v", d.attr("stamp"), err)
		}
	}
	// Deleted once written (the writer signals when it has written them).
	testkit.Eventually(t, waitLimit, "the delivered messages deleted", func() bool { return offlineCount(t, ts, "xtokend_offline_delivered_total") == 3 })
	// Delivered once: a second resource gets nothing stored, and the queue
	// takes messages again.
	bob2 := login(t, ts, "bob@localhost", "b2", loginOpts{})
	bob2.send(`<presence/>`)
	bob2.send(`<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if e := bob2.nextMatching(func(e *elem) bool { return isMessage(e) || e.attr("id") == "p2" }); isMessage(e) {
		t.Errorf("second resource got %s", e)
	}
	bob.close()
	bob2.close()
	alice.send(`<message to='bob@localhost' type='chat' id='again'><body>again</body></message>`)
	alice.ping("again")
	if n := offlineStored(t, ts); n != 4 {
		t.Errorf("after delivery: xtokend_offline_stored_total = %v, want 4", n)
	}
}

// TestOfflineInBatches: more stored messages than the outbound queue holds
// go out in order, in batches that each wait for the writer to make room
// and to write them before they are deleted; all are then deleted once.
func TestOfflineInBatches(t *testing.T) {
	o := storage.DefaultOptions()
	ts := servertest.Start(t, servertest.Options{Storage: &o, QueueSize: 16})
	alice := login(t, ts, "alice@localhost", "a", loginOpts{})
	const count = 70
	for i := range count {
		alice.send(`<message to='bob@localhost' type='chat' id='m%d'><body>%d</body></message>`, i, i)
	}
	alice.ping("sent")
	if n := offlineStored(t, ts); n != count {
		t.Fatalf("xtokend_offline_stored_total = %v, want %d", n, count)
	}
	bob := login(t, ts, "bob@localhost", "b", loginOpts{})
	bob.send(`<presence/>`)
	for i := range count {
		if m := bob.nextMatching(isMessage); m.attr("id") != fmt.Sprintf("m%d", i) {
			t.Fatalf("message %d: got %s", i, m)
		}
	}
	testkit.Eventually(t, waitLimit, "the delivered messages deleted", func() bool {
		return offlineCount(t, ts, "xtokend_offline_delivered_total") == count
	})
	bob.close()
	bob = login(t, ts, "bob@localhost", "b", loginOpts{})
	bob.send(`<presence/>`)
	if e := bob.ping("after"); e.attr("type") != "result" {
		t.Fatalf("ping: %s", e)
	}
	if n := offlineCount(t, ts, "xtokend_offline_delivered_total"); n != count {
		t.Fatalf("after a second login: xtokend_offline_delivered_total = %v, want %d", n, count)
	}
}

func offlineStored(t *testing.T, ts *servertest.Server) float64 {
	return offlineCount(t, ts, "xtokend_offline_stored_total")
}

// offlineCount reads one of the offline counters.
func offlineCount(t *testing.T, ts *servertest.Server, name string) float64 {
	t.Helper()
	mfs, err := ts.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// TestStoredDisco: the host advertises blocking and offline storage.
func TestStoredDisco(t *testing.T) {
	ts := storedServer(t, nil)
	alice := login(t, ts, "alice@localhost", "a", loginOpts{})
	res := iqReply(alice, "d", `<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	got := map[string]bool{}
	for _, f := range res.find("query").Children {
		got[f.attr("var")] = true
	}
	for _, want := range []string{"urn:xmpp:blocking", "msgoffline"} {
		if !got[want] {
			t.Errorf("disco#info lacks %s: %s", want, res)
		}
	}
}

// TestBlocking: XEP-0191 block, push, refusals both ways, unblock-all.
func TestBlocking(t *testing.T) {
	ts := storedServer(t, nil)
	alice := login(t, ts, "alice@localhost", "a", loginOpts{})
	bob := login(t, ts, "bob@localhost", "b", loginOpts{})
	for _, c := range []*client{alice, bob} {
		c.send(`<presence/>`)
		c.ping("avail")
	}
	res := iqReply(alice, "l", `<iq type='get' id='l'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
	if res.attr("type") != "result" || res.find("blocklist") == nil || len(res.find("blocklist").Children) != 0 {
		t.Fatalf("empty list: %s", res)
	}
	res = iqReply(alice, "b", `<iq type='set' id='b'><block xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></block></iq>`)
	if res.attr("type") != "result" {
		t.Fatalf("block: %s", res)
	}
	push := alice.nextMatching(func(e *elem) bool { return e.attr("type") == "set" && e.find("block") != nil })
	if it := push.find("item"); it == nil || it.attr("jid") != "bob@localhost" {
		t.Fatalf("push: %s", push)
	}
	res = iqReply(alice, "l2", `<iq type='get' id='l2'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
	if it := res.find("item"); it == nil || it.attr("jid") != "bob@localhost" {
		t.Fatalf("list: %s", res)
	}

	for _, tc := range []struct{ name, stanza, cond string }{
		{"message", `<message to='alice@localhost' type='chat' id='x1'><body>hi</body></message>`, "service-unavailable"},
		{"iq", `<iq to='alice@localhost/a' type='get' id='x1'><ping xmlns='urn:xmpp:ping'/></iq>`, "service-unavailable"},
		{"presence", `<presence to='alice@localhost/a' id='x1'/>`, ""},
	} {
		t.Run("from blocked "+tc.name, func(t *testing.T) {
			bob.send("%s", tc.stanza)
			bob.send(`<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
			e := bob.nextMatching(func(e *elem) bool { return e.attr("id") == "x1" || e.attr("id") == "after" })
			switch {
			case tc.cond == "" && e.attr("id") != "after":
				t.Errorf("got %s, want nothing", e)
			case tc.cond != "" && !isStanzaError(e, tc.cond):
				t.Errorf("got %s, want %s", e, tc.cond)
			case tc.cond != "":
				bob.nextMatching(func(e *elem) bool { return e.attr("id") == "after" })
			}
		})
	}
	alice.send(`<message to='bob@localhost' type='chat' id='y'><body>hi</body></message>`)
	if e := alice.nextMatching(isMessage); !isStanzaError(e, "not-acceptable") || e.find("blocked") == nil {
		t.Errorf("to blocked: %s", e)
	}
	// Nothing of bob's reached alice.
	alice.send(`<iq type='get' id='q' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if e := alice.nextMatching(func(e *elem) bool { return e.attr("id") == "q" || strings.HasPrefix(e.attr("from"), "bob@") }); e.attr("id") != "q" {
		t.Errorf("alice got %s from a blocked JID", e)
	}

	res = iqReply(alice, "u", `<iq type='set' id='u'><unblock xmlns='urn:xmpp:blocking'/></iq>`)
	if res.attr("type") != "result" {
		t.Fatalf("unblock all: %s", res)
	}
	push = alice.nextMatching(func(e *elem) bool { return e.attr("type") == "set" && e.find("unblock") != nil })
	if push.find("item") != nil {
		t.Errorf("unblock-all push names items: %s", push)
	}
	bob.send(`<message to='alice@localhost' type='chat' id='z'><body>back</body></message>`)
	if m := alice.nextMatching(isMessage); m.find("body") == nil || m.find("body").Text != "back" {
		t.Errorf("after unblock: %s", m)
	}
	// Malformed requests.
	res = iqReply(alice, "e1", `<iq type='set' id='e1'><block xmlns='urn:xmpp:blocking'/></iq>`)
	if !isStanzaError(res, "bad-request") {
		t.Errorf("empty block: %s", res)
	}
}

// TestStorageLocked: a database locked by another writer costs a roster
// set an internal-server-error after the deadline, not the session; reads
// (a roster get), pings and logins go on.
func TestStorageLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	o := storage.DefaultOptions()
	o.Path = path
	ts := servertest.Start(t, servertest.Options{Storage: &o})
	alice := login(t, ts, "alice@localhost", "a", loginOpts{})

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	res := iqReply(alice, "s", `<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query></iq>`)
	if !isStanzaError(res, "internal-server-error") || res.find("text") == nil {
		t.Errorf("set while locked: %s", res)
	}
	if res := iqReply(alice, "g", `<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>`); res.attr("type") != "result" {
		t.Errorf("get while locked: %s", res)
	}
	bob := login(t, ts, "bob@localhost", "b", loginOpts{})
	if e := bob.ping("p"); e.attr("type") != "result" {
		t.Errorf("bob: %s", e)
	}
	if !strings.Contains(ts.Logs(), "storage unavailable") {
		t.Errorf("no log line of the unavailable database")
	}
}
