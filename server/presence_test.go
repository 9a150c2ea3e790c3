package server_test

import (
	"fmt"
	"testing"

	"github.com/xtokend/xtokend/server/servertest"
)

func isPresence(e *elem) bool { return e.XMLName.Local == "presence" }

func TestPresenceBroadcast(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	a := rawLogin(t, ts, "alice", "localhost", "a")
	b := rawLogin(t, ts, "alice", "localhost", "b")

	fmt.Fprintf(a.conn, "<presence><show>away</show></presence>")
	if p := a.expect("presence"); p.attr("from") != "alice@localhost/a" {
		t.Errorf("a's own presence came back as %s", p)
	}
	// b is not available yet: it gets nothing until its own presence, then
	// its echo and a's current presence.
	fmt.Fprintf(b.conn, "<presence><priority>5</priority></presence>")
	got := map[string]bool{}
	for range 2 {
		p := b.expect("presence")
		got[p.attr("from")] = true
		if p.attr("from") == "alice@localhost/a" && (p.find("show") == nil || p.find("show").Text != "away") {
			t.Errorf("a's presence lost its payload: %s", p)
		}
	}
	if !got["alice@localhost/a"] || !got["alice@localhost/b"] {
		t.Errorf("b got presence from %v", got)
	}
	if p := a.expect("presence"); p.attr("from") != "alice@localhost/b" {
		t.Errorf("a got %s", p)
	}

	// a ends without unavailable presence: b hears of it anyway.
	a.conn.Close()
	p := b.expect("presence")
	if p.attr("from") != "alice@localhost/a" || p.attr("type") != "unavailable" {
		t.Errorf("b got %s", p)
	}
}

func TestDirectedPresence(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	alice := rawLogin(t, ts, "alice", "localhost", "a")
	bob := rawLogin(t, ts, "bob", "localhost", "b")

	fmt.Fprintf(alice.conn, "<presence to='bob@localhost/b'/>")
	if p := bob.expect("presence"); p.attr("from") != "alice@localhost/a" || p.attr("type") != "" {
		t.Fatalf("bob got %s", p)
	}
	// A probe is not answered (no subscriptions exist), and presence to an
	// offline full JID goes nowhere.
	fmt.Fprintf(alice.conn, "<presence type='probe' to='bob@localhost'/><presence to='carol@localhost/x'/>")
	alice.conn.Close()
	if p := bob.expect("presence"); p.attr("from") != "alice@localhost/a" || p.attr("type") != "unavailable" {
		t.Fatalf("bob got %s", p)
	}
	// No federation: presence to another server bounces.
	fmt.Fprintf(bob.conn, "<presence to='dave@elsewhere.net'/>")
	if p := bob.expect("presence"); p.attr("type") != "error" || p.find("remote-server-not-found") == nil {
		t.Fatalf("bob got %s", p)
	}
	// Subscription requests pass through, stamped with the bare JID.
	carol := rawLogin(t, ts, "carol", "localhost", "c")
	fmt.Fprintf(bob.conn, "<presence/>")
	bob.expect("presence")
	fmt.Fprintf(carol.conn, "<presence type='subscribe' to='bob@localhost'/>")
	if p := bob.expect("presence"); p.attr("from") != "carol@localhost" || p.attr("type") != "subscribe" {
		t.Fatalf("bob got %s", p)
	}
}
