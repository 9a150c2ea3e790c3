package server_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/server/servertest"
)

// stallProxy stands between the cluster links of one node and another
// node's link listener (the second node's link_advertise names it). Once
// stalled it stops reading what the dialling node writes, as a node stuck
// in GC, swap or a full disk would: the dialling node's writes back up.
type stallProxy struct {
	ln      net.Listener
	target  string
	stalled atomic.Bool
	done    chan struct{}
	mu      sync.Mutex
	conns   []net.Conn
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target, done: make(chan struct{})}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *stallProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go io.Copy(c, up) // answers flow back freely
	buf := make([]byte, 16<<10)
	for {
		if p.stalled.Load() {
			<-p.done
			return
		}
		n, err := c.Read(buf)
		if err != nil {
			up.Close()
			return
		}
		if _, err := up.Write(buf[:n]); err != nil {
			c.Close()
			return
		}
	}
}

func (p *stallProxy) close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestClusterSlowPeerDoesNotStallSender is gap 3: a node that stops reading
// its link must not stall the sessions of other nodes that send to it. The
// sender's stanzas fill the queue for that node, then each is refused at
// once with resource-constraint (a full JID out of reach), and the sender's
// next stanza (a ping) is answered. Before, each stanza waited on the
// sender's read loop for the stuck link.
func TestClusterSlowPeerDoesNotStallSender(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two cluster nodes")
	}
	secret := writeClusterSecret(t)
	n1 := startNode(t, "node1", secret)
	link2 := testkit.FreeAddr(t)
	proxy := newStallProxy(t, link2)
	n2 := servertest.Start(t, servertest.Options{RequireStartTLS: true, Cluster: &cluster.Options{
		NodeName: "node2", Bind: "127.0.0.1:0", LinkListen: link2, LinkAdvertise: proxy.ln.Addr().String(),
		Join: []string{n1.ClusterNode().GossipAddr()}, SecretFile: secret, JoinTimeout: cluster.Duration{Duration: clusterWait},
	}})
	t.Cleanup(proxy.close) // before the nodes stop: what waits on the proxy ends
	clusterEventually(t, "two members", members([]*servertest.Server{n1, n2}, "node1", "node2"))

	bob := mustLoginToken(t, n1, "bob@localhost", n1.Mint(t, "bob@localhost"))
	dave := mustLoginToken(t, n2, "dave@localhost", n2.Mint(t, "dave@localhost"))
	daveFull := dave.jid.String()
	clusterEventually(t, "node 1 sees dave on node 2", func() bool {
		where, ok := n1.ClusterNode().Lookup(daveFull)
		return ok && where == "node2"
	})
	message(bob, daveFull, "before") // through the proxy: the link is up
	gotMessage(dave, "before")

	proxy.stalled.Store(true)
	// Batches of messages, each followed by a ping: the ping's answer says
	// the server read the batch, and a batch's error answers stay below
	// bob's outbound queue. The first refusal ends the flood.
	const batch = 200
	body := strings.Repeat("x", 200)
	var refusal *elem
	for b := 0; refusal == nil; b++ {
		if b == 2000 {
			t.Fatal("400000 messages and no refusal")
		}
		var out strings.Builder
		for i := range batch {
			fmt.Fprintf(&out, `<message type='chat' to='%s' id='f%d-%d'><body>%s</body></message>`, daveFull, b, i, body)
		}
		fmt.Fprintf(&out, `<iq type='get' id='batch-%d' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, b)
		bob.send("%s", out.String())
		for {
			e := bob.next()
			if e.attr("id") == fmt.Sprintf("batch-%d", b) {
				break
			}
			if e.attr("type") == "error" && refusal == nil {
				refusal = e
			}
		}
	}
	if refusal.find("resource-constraint") == nil || refusal.attr("from") != daveFull {
		t.Fatalf("a message the stuck node's queue refused: %s", refusal)
	}
	bob.ping("after-flood") // the sender's read loop goes on
	if st := n1.ClusterNode().Stats(); st.StanzasDropped == 0 {
		t.Fatalf("no drop counted: %+v", st)
	}
	if body := scrape(n1); !strings.Contains(body, "\nxtokend_cluster_stanzas_dropped_total ") || strings.Contains(body, "\nxtokend_cluster_stanzas_dropped_total 0\n") {
		t.Fatal("the drops are not in the metrics")
	}
	t.Logf("refused from %s on", refusal.attr("id"))
}
