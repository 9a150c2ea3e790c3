package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/server/servertest"
)

// TestClusterRevocation is issue 17's "done when" for revocation: a revoked
// user's sessions on two nodes end within a second, the unexpired token
// minted before is refused on every node, and a token minted after the
// revocation's window logs in on every node. A kick reaches the node that
// holds the session.
func TestClusterRevocation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three cluster nodes")
	}
	nodes, secret := startShortPeriodCluster(t)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]

	on1 := rawLogin(t, n1, "alice", "localhost", "one")
	on2 := rawLogin(t, n2, "alice", "localhost", "two")
	bob := rawLogin(t, n2, "bob", "localhost", "b")
	unused := n3.Mint(t, "alice@localhost")

	// Revoked on the node that holds neither session.
	res, err := n3.Revoke(context.Background(), "alice@localhost", "")
	if err != nil || len(res.Unreached) != 0 {
		t.Fatalf("Revoke = %+v, %v", res, err)
	}
	ended := make(chan string, 2)
	for _, c := range []*rawClient{on1, on2} {
		go func() {
			cond, text := c.streamErrorText()
			ended <- cond + " " + text
		}()
	}
	deadline := time.After(time.Second)
	for range 2 {
		select {
		case got := <-ended:
			if got != "not-authorized revoked" {
				t.Fatalf("a session ended with %q", got)
			}
		case <-deadline:
			t.Fatal("a revoked session on another node did not end within a second")
		}
	}
	bob.alive("bob-1")
	for _, n := range nodes {
		if got := rawAuth(t, n, "alice", "localhost", unused); got != "not-authorized" {
			t.Fatalf("the unexpired revoked token on %s: %s", n.ClusterNode().Name(), got)
		}
	}
	// A node that joins while the revocation is in force learns it from
	// the links its peers open to it.
	n4 := shortPeriodNode(t, secret, "node4", n1)
	nodes = append(nodes, n4)
	clusterEventually(t, "four members", members(nodes, "node1", "node2", "node3", "node4"))
	clusterEventually(t, "node 4 told of the revocation", func() bool {
		return strings.Contains(n4.Logs(), "revoked by another node") || time.Now().After(res.Until)
	})
	if !strings.Contains(n4.Logs(), "revoked by another node") {
		t.Fatal("node 4 joined while the revocation was in force and was not told of it")
	}
	if got := rawAuth(t, n4, "alice", "localhost", unused); got != "not-authorized" {
		t.Fatalf("the revoked token on the node that joined later: %s", got)
	}
	time.Sleep(time.Until(res.ValidFrom))
	for _, n := range nodes {
		if got := rawAuth(t, n, "alice", "localhost", n1.Mint(t, "alice@localhost")); got != "success" {
			t.Fatalf("a token minted after the window on %s: %s", n.ClusterNode().Name(), got)
		}
	}

	// A kick on node 1 of a session on node 2.
	again := rawLogin(t, n2, "alice", "localhost", "two")
	clusterEventually(t, "node 1 sees the session", func() bool {
		where, ok := n1.ClusterNode().Lookup(again.jid)
		return ok && where == "node2"
	})
	if ok, err := n1.Kick(context.Background(), again.jid); err != nil || !ok {
		t.Fatalf("Kick = %t, %v", ok, err)
	}
	if cond, _ := again.streamErrorText(); cond != "policy-violation" {
		t.Fatalf("the kicked session on node 2 ended with %q", cond)
	}
}

// startShortPeriodCluster starts three nodes (shortPeriodNode), node2 and
// node3 joining node1, waits until each sees all three, and returns them
// with the cluster's secret file, for a node that joins later.
func startShortPeriodCluster(t *testing.T) ([]*servertest.Server, string) {
	t.Helper()
	secret := writeClusterSecret(t)
	n1 := shortPeriodNode(t, secret, "node1")
	nodes := []*servertest.Server{n1, shortPeriodNode(t, secret, "node2", n1), shortPeriodNode(t, secret, "node3", n1)}
	clusterEventually(t, "three members", members(nodes, "node1", "node2", "node3"))
	return nodes, secret
}

// shortPeriodNode starts a plaintext cluster node (so that rawLogin binds
// the resource it names) with the short OTP period of the revocation and
// rotation tests, joining seeds.
func shortPeriodNode(t *testing.T, secret, name string, seeds ...*servertest.Server) *servertest.Server {
	t.Helper()
	var join []string
	for _, s := range seeds {
		join = append(join, s.ClusterNode().GossipAddr())
	}
	return servertest.Start(t, servertest.Options{Configure: shortPeriod, Cluster: &cluster.Options{
		NodeName: name, Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: join,
		SecretFile: secret, JoinTimeout: cluster.Duration{Duration: clusterWait},
	}})
}
