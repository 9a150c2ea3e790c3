package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server/adminclient"
)

// TestAdminSessionsInCluster: /v1/sessions on one node lists the sessions
// of every node, with the node each is bound on, in a shape the
// single-node client still reads.
func TestAdminSessionsInCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two cluster nodes")
	}
	secret := writeClusterSecret(t)
	keys := newOpsKeys(t)
	node := func(name string, join ...string) opsOptions {
		return opsOptions{configure: func(c *config.Config) {
			c.Cluster = &cluster.Options{NodeName: name, Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0",
				Join: join, SecretFile: secret, JoinTimeout: cluster.Duration{Duration: clusterWait}}
			c.Storage = nil // a cluster without [storage]: storage off
		}}
	}
	n1 := startOpsServer(t, keys, node("node1"))
	n2 := startOpsServer(t, keys, node("node2", n1.ClusterNode().GossipAddr()))
	clusterEventually(t, "two members", func() bool {
		return len(n1.ClusterNode().Members()) == 2 && len(n2.ClusterNode().Members()) == 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	mint := func(ts *opsServer, bare string) string {
		tok, err := adminclient.New(ts.Socket).Mint(ctx, bare)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	alice := n1.mustLogin(t, "alice@localhost", mint(n1, "alice@localhost"))
	bob := n2.mustLogin(t, "bob@first.com", mint(n2, "bob@first.com"))
	aliceFull, bobFull := alice.jid.String(), bob.jid.String()
	clusterEventually(t, "node 1 sees bob on node 2", func() bool {
		where, ok := n1.ClusterNode().Lookup(bobFull)
		return ok && where == "node2"
	})

	var got struct {
		Sessions map[string][]string `json:"sessions"`
		Node     string              `json:"node"`
		Nodes    map[string]string   `json:"nodes"`
	}
	raw := opsRawAdmin(t, n1.Socket, "GET", "/v1/sessions", "")
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("%v in %q", err, raw)
	}
	if got.Node != "node1" || got.Nodes[aliceFull] != "node1" || got.Nodes[bobFull] != "node2" || len(got.Nodes) != 2 {
		t.Fatalf("node and nodes: %+v", got)
	}
	if !slices.Equal(got.Sessions["localhost"], []string{aliceFull}) || !slices.Equal(got.Sessions["first.com"], []string{bobFull}) {
		t.Fatalf("sessions: %+v", got.Sessions)
	}
	// The single-node call reads the same answer, SessionsWhere all of it.
	ac := adminclient.New(n1.Socket)
	sessions, err := ac.Sessions(ctx)
	if err != nil || !slices.Equal(sessions["first.com"], []string{bobFull}) {
		t.Fatalf("adminclient: %v, %v", sessions, err)
	}
	where, err := ac.SessionsWhere(ctx)
	if err != nil || where.Node != "node1" || where.Nodes[bobFull] != "node2" {
		t.Fatalf("adminclient SessionsWhere: %+v, %v", where, err)
	}
}
