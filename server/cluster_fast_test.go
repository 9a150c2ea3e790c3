package server_test

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// TestClusterFAST: a FAST token issued on one node logs in on another; a
// count accepted on one is refused on the other (the use is shared); a
// revocation of the user made on either node drops the token everywhere.
func TestClusterFAST(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two cluster nodes")
	}
	secret := writeClusterSecret(t)
	n1 := shortPeriodNode(t, secret, "node1")
	n2 := shortPeriodNode(t, secret, "node2", n1)
	nodes := []*servertest.Server{n1, n2}
	clusterEventually(t, "two members", members(nodes, "node1", "node2"))

	const ua = "cluster-agent"
	x := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + n1.Mint(t, "alice@localhost")))
	got := wireScript(t, n1, wAuth2Open+"<initial-response>"+x+"</initial-response><user-agent id='"+ua+"'/>"+
		"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>")
	token := tokenIn(t, got)

	// The issue reaches node 2 (each try a higher count: a refused one
	// marks nothing).
	count := 0
	clusterEventually(t, "the token logs in on node 2", func() bool {
		count++
		return strings.Contains(wireScript(t, n2, fastAuth(token, ua, " count='"+strconv.Itoa(count)+"'")), "<success")
	})
	// The use reaches node 1: the same count is a replay there.
	time.Sleep(300 * time.Millisecond)
	if got := wireScript(t, n1, fastAuth(token, ua, " count='"+strconv.Itoa(count)+"'")); !strings.Contains(got, aNotAuth2) {
		t.Fatalf("count %d, accepted on node 2, again on node 1: %q", count, got)
	}
	if got := wireScript(t, n1, fastAuth(token, ua, " count='"+strconv.Itoa(count+1)+"'")); !strings.Contains(got, aSuccess2) {
		t.Fatalf("the next count on node 1: %q", got)
	}

	if _, err := n2.Revoke(context.Background(), "alice@localhost", ""); err != nil {
		t.Fatal(err)
	}
	// A peer applies a revocation as it reads it: Revoke does not wait for
	// that (the README's replay window), so node 1 refuses the token soon
	// after, not at once. Each try a new count, so only the revocation can
	// refuse it.
	next := 100
	for _, n := range nodes {
		clusterEventually(t, "the token refused after a revocation on "+n.ClusterNode().Name(), func() bool {
			next++
			return strings.Contains(wireScript(t, n, fastAuth(token, ua, " count='"+strconv.Itoa(next)+"'")), aNotAuth2)
		})
	}
}
