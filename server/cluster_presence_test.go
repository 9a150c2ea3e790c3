package server_test

import (
	"fmt"
	"testing"

	"github.com/xtokend/xtokend/server/servertest"
)

// twoNodes starts a cluster of two real servers and waits until each sees
// the other.
func twoNodes(t *testing.T) (*servertest.Server, *servertest.Server) {
	t.Helper()
	secret := writeClusterSecret(t)
	n1 := startNode(t, "node1", secret)
	n2 := startNode(t, "node2", secret, n1)
	clusterEventually(t, "two members", members([]*servertest.Server{n1, n2}, "node1", "node2"))
	return n1, n2
}

// seesAvailability is a condition: node sees full bound on where, with
// that availability and priority.
func seesAvailability(node *servertest.Server, full, where string, available bool, priority int8) func() bool {
	return func() bool {
		for _, b := range node.ClusterNode().Bindings(bareOf(full)) {
			if b.JID == full {
				return b.Node == where && b.Available == available && b.Priority == priority
			}
		}
		return false
	}
}

func bareOf(full string) string {
	for i := range len(full) {
		if full[i] == '/' {
			return full[:i]
		}
	}
	return full
}

// answerOrPong sends a stanza with id, then a ping, and returns the first
// of: a stanza with that id, or the ping's result (then nothing came back
// for the stanza, since the server handles a session's stanzas in order).
func answerOrPong(c *client, id, stanza string) *elem {
	c.send("%s", stanza)
	c.send(`<iq type='get' id='pong-%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>`, id, c.jid.Domainpart())
	e := c.nextMatching(func(e *elem) bool { return e.attr("id") == id || e.attr("id") == "pong-"+id })
	if e.attr("id") == id {
		c.nextMatching(func(e *elem) bool { return e.attr("id") == "pong-"+id })
	}
	return e
}

func isError(e *elem, cond string) bool {
	return e.attr("type") == "error" && e.find(cond) != nil
}

// TestClusterBareJIDNeedsAvailability is gap 1 of the cluster: a message
// for a bare JID whose only resources are on another node, none of them
// available with priority >= 0, gets service-unavailable as on a single
// server (RFC 6121 section 8.5.2.1.1) rather than vanish; headlines are
// dropped; presence still reaches resources of any priority; errors are
// never bounced.
func TestClusterBareJIDNeedsAvailability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two cluster nodes")
	}
	n1, n2 := twoNodes(t)
	bob := mustLoginToken(t, n1, "bob@localhost", n1.Mint(t, "bob@localhost"))
	dave := mustLoginToken(t, n2, "dave@localhost", n2.Mint(t, "dave@localhost"))
	daveFull := dave.jid.String()

	// Bound on node 2, never available.
	clusterEventually(t, "node 1 sees dave bound, unavailable", seesAvailability(n1, daveFull, "node2", false, 0))
	if e := answerOrPong(bob, "m1", `<message type='chat' to='dave@localhost' id='m1'><body>1</body></message>`); !isError(e, "service-unavailable") {
		t.Fatalf("chat to a user bound but unavailable on another node: %s", e)
	}
	if e := answerOrPong(bob, "m2", `<message to='dave@localhost' id='m2'><body>2</body></message>`); !isError(e, "service-unavailable") {
		t.Fatalf("normal message to a user bound but unavailable on another node: %s", e)
	}
	if e := answerOrPong(bob, "h1", `<message type='headline' to='dave@localhost' id='h1'><body>h1</body></message>`); e.attr("id") != "pong-h1" {
		t.Fatalf("a headline to an unavailable user was answered: %s", e)
	}
	if e := answerOrPong(bob, "e1", `<message type='error' to='dave@localhost' id='e1'/>`); e.attr("id") != "pong-e1" {
		t.Fatalf("an error message was bounced: %s", e)
	}

	// A message node 1 routed while node 1 still saw dave available
	// (resources that went unavailable in flight): node 2 answers for it
	// when node 1 gave it to node 2 alone (RouteSole), and drops it when
	// other nodes may have delivered it (Route). Both travel, and their
	// answers come back, in order: the first error bob sees is the sole's.
	inFlight := func(id string) []byte {
		return []byte(fmt.Sprintf(`<message type='chat' to='dave@localhost' from='%s' id='%s'><body>%s</body></message>`, bob.jid, id, id))
	}
	if err := n1.ClusterNode().Route("node2", inFlight("shared")); err != nil {
		t.Fatal(err)
	}
	if err := n1.ClusterNode().RouteSole("node2", inFlight("sole")); err != nil {
		t.Fatal(err)
	}
	if e := bob.nextMatching(func(e *elem) bool { return e.attr("type") == "error" }); e.attr("id") != "sole" ||
		e.find("service-unavailable") == nil || e.attr("from") != "dave@localhost" {
		t.Fatalf("the answer to a sole message that found no one: %s", e)
	}

	// Available with a negative priority: messages still bounce, presence
	// to the bare JID reaches him.
	dave.send(`<presence><priority>-1</priority></presence>`)
	clusterEventually(t, "node 1 sees dave available at -1", seesAvailability(n1, daveFull, "node2", true, -1))
	if e := answerOrPong(bob, "m3", `<message type='chat' to='dave@localhost' id='m3'><body>3</body></message>`); !isError(e, "service-unavailable") {
		t.Fatalf("chat to a user of negative priority on another node: %s", e)
	}
	bob.send(`<presence to='dave@localhost' id='p1'/>`)
	if p := dave.nextMatching(func(e *elem) bool { return e.attr("id") == "p1" }); p.attr("from") != bob.jid.String() {
		t.Fatalf("directed presence: %s", p)
	}

	// Priority 0: chat and headline reach him; nothing bounces.
	dave.send(`<presence/>`)
	clusterEventually(t, "node 1 sees dave available at 0", seesAvailability(n1, daveFull, "node2", true, 0))
	if e := answerOrPong(bob, "m4", `<message type='chat' to='dave@localhost' id='m4'><body>4</body></message>`); e.attr("id") != "pong-m4" {
		t.Fatalf("chat to an available user was answered: %s", e)
	}
	gotMessage(dave, "4")
	bob.send(`<message type='headline' to='dave@localhost' id='h2'><body>h2</body></message>`)
	gotMessage(dave, "h2")

	// Unavailable again: back to service-unavailable.
	dave.send(`<presence type='unavailable'/>`)
	clusterEventually(t, "node 1 sees dave unavailable", seesAvailability(n1, daveFull, "node2", false, 0))
	if e := answerOrPong(bob, "m5", `<message type='chat' to='dave@localhost' id='m5'><body>5</body></message>`); !isError(e, "service-unavailable") {
		t.Fatalf("chat to a user unavailable again: %s", e)
	}
}

// TestClusterNewResourceGetsRemotePresence is gap 2: a session's first
// broadcast presence brings it the presence of the user's available
// resources on other nodes, as on a single server (RFC 6121 section
// 4.2.2). The probe that fetches it is never seen by a client, and a probe
// a client sends is still dropped.
func TestClusterNewResourceGetsRemotePresence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two cluster nodes")
	}
	n1, n2 := twoNodes(t)
	carol := mustLoginToken(t, n2, "carol@localhost", n2.Mint(t, "carol@localhost"))
	carolFull := carol.jid.String()
	carol.send(`<presence><show>away</show><status>on node 2</status><priority>3</priority></presence>`)
	clusterEventually(t, "node 1 sees carol available", seesAvailability(n1, carolFull, "node2", true, 3))

	carol2 := mustLoginToken(t, n1, "carol@localhost", n1.Mint(t, "carol@localhost"))
	carol2Full := carol2.jid.String()
	carol2.send(`<presence/>`)
	p := carol2.nextMatching(func(e *elem) bool { return e.XMLName.Local == "presence" && e.attr("from") == carolFull })
	if p.attr("type") != "" || p.attr("to") != carol2Full {
		t.Fatalf("carol's presence as her new resource got it: %s", p)
	}
	if st := p.find("status"); st == nil || st.Text != "on node 2" {
		t.Fatalf("carol's presence lost its status: %s", p)
	}
	// Carol on node 2 got the new resource's presence, and no probe: the
	// probe was answered before carol2 got the answer, so anything it left
	// for carol is ahead of her ping's result.
	carol.nextMatching(func(e *elem) bool {
		return e.XMLName.Local == "presence" && e.attr("from") == carol2Full && e.attr("type") == ""
	})
	carol.send(`<iq type='get' id='after-probe' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	for {
		e := carol.next()
		if e.attr("type") == "probe" {
			t.Fatalf("a client got the cluster's probe: %s", e)
		}
		if e.attr("id") == "after-probe" {
			break
		}
	}

	// A client's own probe is dropped, as on one node: carol gets the
	// message sent after it (same link, in order) and no probe.
	carol2.send(`<presence type='probe' to='%s'/>`, carolFull)
	message(carol2, carolFull, "after")
	for {
		e := carol.next()
		if e.attr("type") == "probe" {
			t.Fatalf("a client's probe crossed the cluster: %s", e)
		}
		if b := e.find("body"); b != nil && b.Text == "after" {
			break
		}
	}

	// The directory follows presence that is not the first: carol2 at
	// priority -2 is seen so on node 2.
	carol2.send(`<presence><priority>-2</priority></presence>`)
	clusterEventually(t, "node 2 sees carol2 at -2", seesAvailability(n2, carol2Full, "node1", true, -2))

	// Node 2 stops: carol's session ends with it, and her unavailable
	// presence reaches carol2 before node 2 leaves.
	shutdown(t, n2)
	carol2.nextMatching(func(e *elem) bool {
		return e.XMLName.Local == "presence" && e.attr("from") == carolFull && e.attr("type") == "unavailable"
	})
}
