package server_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/server/servertest"
)

// crashChildEnv carries, to the child process of
// TestClusterCrashedNodesPresence, the cluster secret's path and the gossip
// address to join, separated by a newline.
const crashChildEnv = "XTOKEND_TEST_CRASH_CHILD"

// TestClusterCrashChild is the node that crashes: a real server, in a
// child process so that a SIGKILL ends it without a word, with one
// available session of alice. It runs only as TestClusterCrashedNodesPresence's
// child.
func TestClusterCrashChild(t *testing.T) {
	env := os.Getenv(crashChildEnv)
	if env == "" {
		t.Skip("the child process of TestClusterCrashedNodesPresence")
	}
	secret, seed, _ := strings.Cut(env, "\n")
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true, Cluster: &cluster.Options{
		NodeName:    "node2",
		Bind:        "127.0.0.1:0",
		LinkListen:  "127.0.0.1:0",
		Join:        []string{seed},
		SecretFile:  secret,
		JoinTimeout: cluster.Duration{Duration: clusterWait},
	}})
	alice := mustLoginToken(t, ts, "alice@localhost", ts.Mint(t, "alice@localhost"))
	alice.send(`<presence/>`)
	alice.ping("sent") // the presence was handled
	fmt.Printf("\nBOUND %s\n", alice.jid)
	select {} // until killed
}

// TestClusterCrashedNodesPresence: when a node crashes (SIGKILL, no leave,
// no unbind), a survivor whose session had the presence of the crashed
// node's session of the same user gets its unavailable presence
// (Hooks.SessionsLost), as it would have had the session ended; and a
// message routed to the crashed node's session, which never got there,
// is answered with service-unavailable (Hooks.Undelivered).
func TestClusterCrashedNodesPresence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two cluster nodes, one in a child process")
	}
	secret := writeClusterSecret(t)
	n1 := startNode(t, "node1", secret)
	alice := mustLoginToken(t, n1, "alice@localhost", n1.Mint(t, "alice@localhost"))
	alice.send(`<presence/>`)
	alice.ping("sent")
	bob := mustLoginToken(t, n1, "bob@localhost", n1.Mint(t, "bob@localhost"))

	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+secret+"\n"+n1.ClusterNode().GossipAddr())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var other string
	for sc := bufio.NewScanner(out); sc.Scan(); {
		if s, ok := strings.CutPrefix(sc.Text(), "BOUND "); ok {
			other = s
			break
		}
	}
	if other == "" {
		t.Fatal("the child node ended before binding its session")
	}
	clusterEventually(t, "node 1 sees the child's alice available", seesAvailability(n1, other, "node2", true, 0))
	got := alice.nextMatching(func(e *elem) bool { return e.XMLName.Local == "presence" && e.attr("from") == other })
	if got.attr("type") != "" {
		t.Fatalf("first presence from the other resource: %s", got)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Sent long before memberlist declares node 2 dead, so node 1 routes
	// it there; had it not, the full JID's bare JID rules would deliver it
	// to alice here, and bob would get no error.
	bob.send(`<message type='chat' to='%s' id='lost'><body>hello?</body></message>`, other)
	if e := bob.nextMatching(func(e *elem) bool { return e.attr("id") == "lost" }); !isError(e, "service-unavailable") || e.attr("from") != other {
		t.Fatalf("answer to a message lost with a crashed node: %s", e)
	}
	got = alice.nextMatching(func(e *elem) bool { return e.XMLName.Local == "presence" && e.attr("from") == other })
	if got.attr("type") != "unavailable" {
		t.Fatalf("presence from the crashed node's resource: %s, want unavailable", got)
	}
	clusterEventually(t, "node 1 sees node 2 gone", members([]*servertest.Server{n1}, "node1"))
	if body := scrape(n1); !strings.Contains(body, "\nxtokend_cluster_replay_fallbacks_total ") {
		t.Errorf("no xtokend_cluster_replay_fallbacks_total in /metrics")
	}
}
