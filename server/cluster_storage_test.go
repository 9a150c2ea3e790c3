package server_test

import (
	"testing"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/internal/pgtest"
	"github.com/xtokend/xtokend/server/servertest"
	"github.com/xtokend/xtokend/storage"
)

// startStoredNode is startNode with the cluster's shared PostgreSQL.
func startStoredNode(t *testing.T, name, secret, dsn string, seeds ...*servertest.Server) *servertest.Server {
	t.Helper()
	var join []string
	for _, s := range seeds {
		join = append(join, s.ClusterNode().GossipAddr())
	}
	return servertest.Start(t, servertest.Options{RequireStartTLS: true,
		Storage: &storage.Options{Backend: storage.BackendPostgres, DSN: dsn},
		Cluster: &cluster.Options{
			NodeName:    name,
			Bind:        "127.0.0.1:0",
			LinkListen:  "127.0.0.1:0",
			Join:        join,
			SecretFile:  secret,
			JoinTimeout: cluster.Duration{Duration: clusterWait},
		}})
}

// TestClusterSubscriptions: two nodes sharing one real PostgreSQL; alice
// on one subscribes to bob on the other: the request, the approval, both
// roster pushes and bob's presence cross the cluster, and a message to a
// user online nowhere waits in the shared database for a login on either
// node.
func TestClusterSubscriptions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and two cluster nodes")
	}
	dsn := pgtest.Start(t).NewDatabase(t)
	secret := writeClusterSecret(t)
	n1 := startStoredNode(t, "node1", secret, dsn)
	n2 := startStoredNode(t, "node2", secret, dsn, n1)
	clusterEventually(t, "two members", members([]*servertest.Server{n1, n2}, "node1", "node2"))

	alice := mustLoginToken(t, n1, "alice@localhost", n1.Mint(t, "alice@localhost"))
	bob := mustLoginToken(t, n2, "bob@localhost", n2.Mint(t, "bob@localhost"))
	for _, c := range []*client{alice, bob} {
		iqReply(c, "r", `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
		c.send(`<presence/>`)
		c.ping("avail")
	}
	// Two more of alice's resources on the other node: one asks for the
	// roster (and gets pushes from node 1), one does not (and gets none).
	alice2 := mustLoginToken(t, n2, "alice@localhost", n2.Mint(t, "alice@localhost"))
	iqReply(alice2, "r", `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	alice3 := mustLoginToken(t, n2, "alice@localhost", n2.Mint(t, "alice@localhost"))
	clusterEventually(t, "node 1 sees alice's resources on node 2", func() bool {
		n := 0
		for _, b := range n1.ClusterNode().Bindings("alice@localhost") {
			if b.Node == "node2" {
				n++
			}
		}
		return n == 2
	})
	clusterEventually(t, "node 1 sees bob available", seesAvailability(n1, bob.jid.String(), "node2", true, 0))
	clusterEventually(t, "node 2 sees alice available", seesAvailability(n2, alice.jid.String(), "node1", true, 0))

	alice.send(`<presence type='subscribe' to='bob@localhost'/>`)
	if e := bob.nextMatching(func(e *elem) bool { return e.attr("type") == "subscribe" }); e.attr("from") != "alice@localhost" {
		t.Fatalf("bob got %s", e)
	}
	bob.send(`<presence type='subscribed' to='alice@localhost'/>`)
	push := alice.nextMatching(func(e *elem) bool { return isRosterPush(e) && items(e)["bob@localhost"].attr("subscription") == "to" })
	if push.attr("to") != alice.jid.String() {
		t.Errorf("push: %s", push)
	}
	// The subscribe (made on node 1) and the approval (on node 2) each
	// pushed an item: alice2 got both, alice3 neither (node 2 dropped the
	// one from node 1, and did not send its own).
	for _, want := range []string{"none", "to"} {
		if p := items(alice2.nextMatching(isRosterPush))["bob@localhost"]; p == nil || p.attr("subscription") != want {
			t.Errorf("alice2's push: %v, want subscription %s", p, want)
		}
	}
	alice3.send(`<iq type='get' id='p3' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if e := alice3.nextMatching(func(e *elem) bool { return e.XMLName.Local == "iq" }); e.attr("id") != "p3" {
		t.Errorf("alice3, which never asked for the roster, got %s", e)
	}
	if e := alice.nextMatching(func(e *elem) bool { return isPresence(e) && e.attr("from") == bob.jid.String() }); e.attr("type") != "" {
		t.Fatalf("alice got %s", e)
	}
	bob.send(`<presence><show>dnd</show></presence>`)
	if e := alice.nextMatching(func(e *elem) bool { return isPresence(e) && e.attr("from") == bob.jid.String() }); e.find("show") == nil {
		t.Fatalf("alice got %s", e)
	}

	// A second resource of bob, on alice's node; then bob cancels alice's
	// subscription from node 2: alice hears both resources go.
	bob2 := mustLoginToken(t, n1, "bob@localhost", n1.Mint(t, "bob@localhost"))
	bob2.send(`<presence/>`)
	if e := alice.nextMatching(func(e *elem) bool { return isPresence(e) && e.attr("from") == bob2.jid.String() }); e.attr("type") != "" {
		t.Fatalf("alice got %s", e)
	}
	clusterEventually(t, "node 2 sees bob2 available", seesAvailability(n2, bob2.jid.String(), "node1", true, 0))
	bob.send(`<presence type='unsubscribed' to='alice@localhost'/>`)
	gone := map[string]bool{}
	for len(gone) < 2 {
		if e := alice.nextMatching(isPresence); e.attr("type") == "unavailable" {
			gone[e.attr("from")] = true
		}
	}
	if !gone[bob.jid.String()] || !gone[bob2.jid.String()] {
		t.Errorf("unavailable from %v, want bob's two resources", gone)
	}

	alice.send(`<message to='carol@localhost' type='chat' id='c'><body>for later</body></message>`)
	alice.ping("stored")
	carol := mustLoginToken(t, n2, "carol@localhost", n2.Mint(t, "carol@localhost"))
	carol.send(`<presence/>`)
	if m := carol.nextMatching(isMessage); m.find("body") == nil || m.find("body").Text != "for later" || m.find("delay") == nil {
		t.Fatalf("carol got %s", m)
	}
}
