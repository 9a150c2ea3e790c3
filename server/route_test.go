package server_test

import (
	"testing"

	"github.com/xtokend/xtokend/server/servertest"
)

func isMessage(e *elem) bool { return e.XMLName.Local == "message" }

func TestMessageFromStamped(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	alice := login(t, ts, "alice@localhost", "", loginOpts{})
	bob := login(t, ts, "bob@localhost", "", loginOpts{})
	bob.send(`<presence/>`)
	bob.ping("sync") // bob is available once his presence was processed
	full := alice.jid.String()

	for _, tc := range []struct {
		name, stanza string
	}{
		{"to bare, no from", `<message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>`},
		{"to full, bare from", `<message to='` + bob.jid.String() + `' from='alice@localhost' id='m1'><body>hi</body></message>`},
		{"to bare, full from", `<message to='BOB@localhost' from='` + full + `' id='m1'><body>hi</body></message>`},
		{"from another resource of the sender's", `<message to='bob@localhost' from='alice@localhost/elsewhere' id='m1'><body>hi</body></message>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice.send("%s", tc.stanza)
			m := bob.nextMatching(isMessage)
			if m.attr("from") != full {
				t.Errorf("from = %q, want %s: %s", m.attr("from"), full, m)
			}
			if b := m.find("body"); b == nil || b.Text != "hi" || m.attr("id") != "m1" {
				t.Errorf("message changed: %s", m)
			}
		})
	}
}

func TestForgedFrom(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	mallory := login(t, ts, "mallory@localhost", "", loginOpts{})
	bob := login(t, ts, "bob@localhost", "", loginOpts{})
	bob.send(`<presence/>`)
	bob.ping("sync")

	mallory.send(`<message to='bob@localhost' from='alice@localhost/desk'><body>trust me</body></message>`)
	if cond := mallory.streamError(); cond != "invalid-from" {
		t.Fatalf("forged from: stream ended with %q, want invalid-from", cond)
	}
	// Anything routed for mallory would be in bob's queue before this answer.
	bob.send(`<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if e := bob.nextMatching(func(e *elem) bool { return e.XMLName.Local != "presence" }); e.attr("id") != "after" {
		t.Fatalf("bob received %s", e)
	}
}

func TestMessageToNobody(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Hosts: []string{"localhost", "example.org"}})
	alice := login(t, ts, "alice@localhost", "", loginOpts{})
	idle := login(t, ts, "idle@localhost", "", loginOpts{}) // bound, never sent presence
	_ = idle

	for _, tc := range []struct {
		to, cond string
	}{
		{"carol@localhost", "service-unavailable"},
		{"carol@localhost/phone", "service-unavailable"},
		{"idle@localhost", "service-unavailable"},
		{"carol@example.org", "service-unavailable"},
		{"carol@elsewhere.net", "remote-server-not-found"},
		{"localhost", "service-unavailable"},
	} {
		t.Run(tc.to, func(t *testing.T) {
			alice.send(`<message to='%s' type='chat' id='x'><body>anyone?</body></message>`, tc.to)
			e := alice.nextMatching(isMessage)
			if e.attr("type") != "error" || e.find(tc.cond) == nil || e.attr("from") != tc.to || e.attr("id") != "x" {
				t.Errorf("got %s, want a %s error from %s", e, tc.cond, tc.to)
			}
		})
	}
	// An error is never answered with an error.
	alice.send(`<message to='carol@localhost' type='error' id='e'/>`)
	if e := alice.ping("after-error"); e.attr("type") != "result" {
		t.Errorf("ping: %s", e)
	}
}

func TestCrossHost(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Hosts: []string{"localhost", "example.org"}})
	alice := login(t, ts, "alice@localhost", "", loginOpts{})
	bob := login(t, ts, "bob@example.org", "", loginOpts{})
	bob.send(`<presence/>`)
	bob.ping("sync")
	alice.send(`<message to='bob@example.org'><body>across</body></message>`)
	m := bob.nextMatching(isMessage)
	if m.attr("from") != alice.jid.String() || m.find("body").Text != "across" {
		t.Errorf("got %s", m)
	}
	got := ts.Sessions()
	if len(got["localhost"]) != 1 || len(got["example.org"]) != 1 {
		t.Errorf("Sessions() = %v", got)
	}
}

func TestIQRouting(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	alice := login(t, ts, "alice@localhost", "", loginOpts{})
	bob := login(t, ts, "bob@localhost", "", loginOpts{})

	alice.send(`<iq type='get' id='q1' to='%s'><query xmlns='jabber:iq:version'/></iq>`, bob.jid)
	q := bob.next()
	if q.XMLName.Local != "iq" || q.attr("from") != alice.jid.String() || q.attr("id") != "q1" || q.find("query") == nil {
		t.Fatalf("bob got %s", q)
	}
	bob.send(`<iq type='result' id='q1' to='%s'><query xmlns='jabber:iq:version'><name>test</name></query></iq>`, alice.jid)
	r := alice.next()
	if r.attr("type") != "result" || r.attr("from") != bob.jid.String() || r.find("name").Text != "test" {
		t.Fatalf("alice got %s", r)
	}

	// To an unavailable full JID: service-unavailable.
	alice.send(`<iq type='get' id='q2' to='bob@localhost/gone'><query xmlns='jabber:iq:version'/></iq>`)
	if e := alice.next(); e.attr("type") != "error" || e.find("service-unavailable") == nil || e.attr("id") != "q2" {
		t.Errorf("got %s", e)
	}
	// A ping to a user's bare JID is answered by the server on its behalf.
	alice.send(`<iq type='get' id='q3' to='bob@localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if e := alice.next(); e.attr("type") != "result" || e.attr("from") != "bob@localhost" {
		t.Errorf("got %s", e)
	}
	// A malformed 'to': jid-malformed.
	alice.send(`<iq type='get' id='q4' to='a@b@c'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if e := alice.next(); e.attr("type") != "error" || e.find("jid-malformed") == nil {
		t.Errorf("got %s", e)
	}
}
