package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/sasl"
	"github.com/xtokend/xtokend/server/servertest"
)

// clusterWait bounds every wait of the cluster tests: memberlist's failure
// detection and a loaded machine under -race are slow. Nothing sleeps a
// fixed time; conditions are polled until they hold or this passes.
const clusterWait = 60 * time.Second

func writeClusterSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, cluster.SecretSize)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), "cluster_secret")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startNode starts a real server that is a node of the cluster whose
// secret is in secret, joining through the seeds' gossip addresses.
func startNode(t *testing.T, name, secret string, seeds ...*servertest.Server) *servertest.Server {
	t.Helper()
	var join []string
	for _, s := range seeds {
		join = append(join, s.ClusterNode().GossipAddr())
	}
	return servertest.Start(t, servertest.Options{RequireStartTLS: true, Cluster: &cluster.Options{
		NodeName:    name,
		Bind:        "127.0.0.1:0",
		LinkListen:  "127.0.0.1:0",
		Join:        join,
		SecretFile:  secret,
		JoinTimeout: cluster.Duration{Duration: clusterWait},
	}})
}

// clusterEventually polls cond until it holds, failing at the deadline.
func clusterEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, clusterWait, what, cond)
}

// members is a condition: every node sees exactly the named members.
func members(nodes []*servertest.Server, names ...string) func() bool {
	slices.Sort(names)
	return func() bool {
		for _, n := range nodes {
			got := n.ClusterNode().Members()
			slices.Sort(got)
			if !slices.Equal(got, names) {
				return false
			}
		}
		return true
	}
}

// loginToken logs in to ts as bare (the server picks the resource) with the given token, over
// STARTTLS, with mellium's client and the X-TOKEN client mechanism.
func loginToken(t *testing.T, ts *servertest.Server, bare, token string) (*client, error) {
	t.Helper()
	origin := jid.MustParse(bare)
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	features := []xmpp.StreamFeature{
		xmpp.StartTLS(ts.ClientTLS(origin.Domainpart())),
		xmpp.SASL("", "", sasl.ClientMechanism("", origin.Localpart(), token)),
		xmpp.BindResource(),
	}
	xs, err := xmpp.NewSession(ctx, origin.Domain(), origin, conn, 0, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: features}
	}))
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &client{t: t, jid: xs.LocalAddr(), xs: xs, conn: xs.Conn(), in: make(chan *elem, 1024), end: make(chan error, 1)}
	go c.readLoop()
	t.Cleanup(func() { c.conn.Close() })
	return c, nil
}

func mustLoginToken(t *testing.T, ts *servertest.Server, bare, token string) *client {
	t.Helper()
	c, err := loginToken(t, ts, bare, token)
	if err != nil {
		t.Fatalf("login %s: %v", bare, err)
	}
	return c
}

func refused(t *testing.T, ts *servertest.Server, bare, token, why string) {
	t.Helper()
	c, err := loginToken(t, ts, bare, token)
	if err == nil {
		c.conn.Close()
		t.Fatalf("%s: the login succeeded", why)
	}
	if !strings.Contains(err.Error(), "not-authorized") {
		t.Fatalf("%s: %v, want not-authorized", why, err)
	}
}

// scrape returns what the server's /metrics serves.
func scrape(ts *servertest.Server) string {
	rec := httptest.NewRecorder()
	ts.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func shutdown(t *testing.T, ts *servertest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// message sends a chat message and returns what the recipient got.
func message(from *client, to, body string) {
	from.send(`<message type='chat' to='%s' id='m-%s'><body>%s</body></message>`, to, body, body)
}

func gotMessage(c *client, body string) *elem {
	return c.nextMatching(func(e *elem) bool {
		b := e.find("body")
		return e.XMLName.Local == "message" && b != nil && b.Text == body
	})
}

// TestClusterThreeNodes is issue 8's "done when": three servers on loopback
// in one cluster, real c2s logins with mellium clients.
func TestClusterThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three cluster nodes")
	}
	secret := writeClusterSecret(t)
	n1 := startNode(t, "node1", secret)
	n2 := startNode(t, "node2", secret, n1)
	n3 := startNode(t, "node3", secret, n1, n2)
	all := []*servertest.Server{n1, n2, n3}
	clusterEventually(t, "three members seen by every node", members(all, "node1", "node2", "node3"))
	clusterEventually(t, "node 2's cluster gauges", func() bool {
		body := scrape(n2)
		return strings.Contains(body, "\nxtokend_cluster_members 3\n") && strings.Contains(body, "\nxtokend_cluster_ready 1\n")
	})

	// A token minted on node 1 logs in on node 2, and is then refused on
	// node 3 (and on node 2 again).
	token := n1.Mint(t, "alice@localhost")
	alice := mustLoginToken(t, n2, "alice@localhost", token)
	refused(t, n3, "alice@localhost", token, "a used token on another node")
	refused(t, n2, "alice@localhost", token, "a used token on the same node")

	// A message from a session on node 1 to one on node 3, to its full JID
	// and to its bare JID, and the answer back.
	bob := mustLoginToken(t, n1, "bob@localhost", n1.Mint(t, "bob@localhost"))
	carol := mustLoginToken(t, n3, "carol@localhost", n3.Mint(t, "carol@localhost"))
	carol.send(`<presence/>`) // available: a message to the bare JID reaches her
	carol.ping("p1")
	carolFull, bobFull := carol.jid.String(), bob.jid.String()
	clusterEventually(t, "node 1 sees carol on node 3", func() bool {
		where, ok := n1.ClusterNode().Lookup(carolFull)
		return ok && where == "node3"
	})
	message(bob, carolFull, "full")
	if m := gotMessage(carol, "full"); m.attr("from") != bobFull || m.attr("to") != carolFull {
		t.Fatalf("carol got %s", m)
	}
	message(bob, "carol@localhost", "bare")
	if m := gotMessage(carol, "bare"); m.attr("from") != bobFull {
		t.Fatalf("carol got %s", m)
	}
	clusterEventually(t, "node 3 sees bob on node 1", func() bool {
		where, ok := n3.ClusterNode().Lookup(bobFull)
		return ok && where == "node1"
	})
	message(carol, bobFull, "back")
	gotMessage(bob, "back")
	// A user online nowhere: service-unavailable, as on one node.
	message(bob, "dave@localhost", "nobody")
	if e := bob.nextMatching(func(e *elem) bool { return e.attr("id") == "m-nobody" }); e.attr("type") != "error" || e.find("service-unavailable") == nil {
		t.Fatalf("message to nobody: %s", e)
	}

	// A stanza that reaches a node after its recipient left it (a stale
	// directory) comes back as an error stanza to the sender's node.
	stale := fmt.Sprintf(`<message to='nobody@localhost/gone' from='%s' type='chat' id='m-stale'><body>stale</body></message>`, bobFull)
	if err := n1.ClusterNode().Route("node3", []byte(stale)); err != nil {
		t.Fatal(err)
	}
	if e := bob.nextMatching(func(e *elem) bool { return e.attr("id") == "m-stale" }); e.attr("type") != "error" ||
		e.find("service-unavailable") == nil || e.attr("from") != "nobody@localhost/gone" {
		t.Fatalf("a stanza for a session gone from its node: %s", e)
	}

	// Presence of the user's own resources crosses nodes: carol's second
	// resource, on node 1, comes online and goes away.
	carol2 := mustLoginToken(t, n1, "carol@localhost", n1.Mint(t, "carol@localhost"))
	carol2Full := carol2.jid.String()
	carol2.send(`<presence/>`)
	carol.nextMatching(func(e *elem) bool {
		return e.XMLName.Local == "presence" && e.attr("from") == carol2Full && e.attr("type") == ""
	})
	carol2.close()
	carol.nextMatching(func(e *elem) bool {
		return e.XMLName.Local == "presence" && e.attr("from") == carol2Full && e.attr("type") == "unavailable"
	})

	// Node 1 stops: its sessions get system-shutdown, it leaves, and nodes
	// 2 and 3 keep verifying (new tokens log in, used ones stay refused).
	unused1 := n1.Mint(t, "erin@localhost")
	shutdown(t, n1)
	if cond := bob.streamError(); cond != "system-shutdown" {
		t.Fatalf("bob on the stopped node: stream error %q, want system-shutdown", cond)
	}
	rest := []*servertest.Server{n2, n3}
	clusterEventually(t, "nodes 2 and 3 see node 1 gone", members(rest, "node2", "node3"))
	clusterEventually(t, "bob's session went with node 1", func() bool {
		_, ok := n3.ClusterNode().Lookup(bobFull)
		return !ok
	})
	message(carol, bobFull, "gone")
	if e := carol.nextMatching(func(e *elem) bool { return e.attr("id") == "m-gone" }); e.attr("type") != "error" || e.find("service-unavailable") == nil {
		t.Fatalf("message to a session of the stopped node: %s", e)
	}
	mustLoginToken(t, n3, "erin@localhost", unused1).close() // minted by node 1, before it left
	refused(t, n2, "erin@localhost", unused1, "a used token after node 1 left")
	refused(t, n3, "alice@localhost", token, "the first token after node 1 left")
	mustLoginToken(t, n2, "frank@localhost", n3.Mint(t, "frank@localhost")).close()

	// Node 1 comes back under its name and verifies tokens minted on node 2.
	n1 = startNode(t, "node1", secret, n2)
	all = []*servertest.Server{n1, n2, n3}
	clusterEventually(t, "node 1 back everywhere", members(all, "node1", "node2", "node3"))
	fromN2 := n2.Mint(t, "grace@localhost")
	mustLoginToken(t, n1, "grace@localhost", fromN2).close()
	refused(t, n3, "grace@localhost", fromN2, "a token used on the rejoined node")
	old := n2.Mint(t, "heidi@localhost") // never used
	alice.close()
	carol.close()

	// All three stop; a node started afresh has RAM keys of its own, and
	// a token of the old cluster no longer verifies.
	for _, n := range all {
		shutdown(t, n)
	}
	fresh := startNode(t, "node1", secret)
	refused(t, fresh, "heidi@localhost", old, "a token of a cluster that is gone")
	mustLoginToken(t, fresh, "heidi@localhost", fresh.Mint(t, "heidi@localhost")).close()
}

// TestClusterMergeReplacesKeys: two nodes that each started a cluster alone
// meet; every node keeps the older RAM keys, and the node whose keys lost
// rebuilds its verifier (Hooks.KeyReplaced), so tokens of the older node
// verify on it and its own earlier tokens no longer do.
func TestClusterMergeReplacesKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two cluster nodes")
	}
	secret := writeClusterSecret(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seed := l.Addr().String() // free once closed: the newer node binds it later
	l.Close()

	// The older node starts first, alone: its seed is not up yet. It keeps
	// looking for it.
	older := servertest.Start(t, servertest.Options{RequireStartTLS: true, Cluster: &cluster.Options{
		NodeName: "older", Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: []string{seed},
		SecretFile: secret, JoinTimeout: cluster.Duration{Duration: 50 * time.Millisecond},
	}})
	// The newer node starts alone on the seed's address, with keys of its own.
	newer := servertest.Start(t, servertest.Options{RequireStartTLS: true, Cluster: &cluster.Options{
		NodeName: "newer", Bind: seed, LinkListen: "127.0.0.1:0", SecretFile: secret,
	}})
	before := newer.Mint(t, "ivan@localhost")

	clusterEventually(t, "the two nodes met", members([]*servertest.Server{older, newer}, "older", "newer"))
	clusterEventually(t, "a token of the older node logs in on the newer one", func() bool {
		c, err := loginToken(t, newer, "judy@localhost", older.Mint(t, "judy@localhost"))
		if err != nil {
			return false
		}
		c.close()
		return true
	})
	refused(t, newer, "ivan@localhost", before, "a token of the keys that lost the merge")
	mustLoginToken(t, older, "ivan@localhost", newer.Mint(t, "ivan@localhost")).close()
}

// TestClusterResourceConflict: one full JID bound on two nodes. The newer
// session stays; the older one, on the other node, ends with a conflict
// stream error, as a resource bound twice on one node does.
func TestClusterResourceConflict(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two cluster nodes")
	}
	secret := writeClusterSecret(t)
	plain := func(name string, seeds ...*servertest.Server) *servertest.Server {
		var join []string
		for _, s := range seeds {
			join = append(join, s.ClusterNode().GossipAddr())
		}
		// Plaintext, so that rawLogin can bind a resource of its choice.
		return servertest.Start(t, servertest.Options{Cluster: &cluster.Options{
			NodeName: name, Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: join,
			SecretFile: secret, JoinTimeout: cluster.Duration{Duration: clusterWait},
		}})
	}
	n1 := plain("node1")
	n2 := plain("node2", n1)
	clusterEventually(t, "two members", members([]*servertest.Server{n1, n2}, "node1", "node2"))

	first := rawLogin(t, n1, "mallory", "localhost", "same")
	clusterEventually(t, "node 2 sees the first session", func() bool {
		where, ok := n2.ClusterNode().Lookup(first.jid)
		return ok && where == "node1"
	})
	second := rawLogin(t, n2, "mallory", "localhost", "same")
	if second.jid != first.jid {
		t.Fatalf("bound %s, then %s", first.jid, second.jid)
	}
	if cond := first.expectStreamError(); cond != "conflict" {
		t.Fatalf("the older session got %q, want conflict", cond)
	}
	clusterEventually(t, "both nodes place the JID on node 2 only", func() bool {
		w1, ok1 := n1.ClusterNode().Lookup(first.jid)
		w2, ok2 := n2.ClusterNode().Lookup(first.jid)
		return ok1 && ok2 && w1 == "node2" && w2 == "node2"
	})
}
