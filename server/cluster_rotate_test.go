package server_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClusterRotateRAMUnderLoad is issue 17's "done when" for RAM keys: on a
// three-node cluster under continuous logins, each token minted on one node
// and used on the next, POST /v1/hosts/{host}/rotate's rotation refuses no
// login; a token minted before the rotation still logs in on every node
// after it; and one token lifetime later the old keys are gone from every
// node.
func TestClusterRotateRAMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three cluster nodes")
	}
	nodes, _ := startShortPeriodCluster(t)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]

	var (
		ok, refusedN atomic.Int64
		first        atomic.Value
		stop         = make(chan struct{})
		wg           sync.WaitGroup
	)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select { // paced: the machine is shared, and steady logins are the point, not many
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				user := fmt.Sprintf("u%d-%d", w, i)
				tok, _, err := nodes[(w+i)%3].Server.Mint(user + "@localhost")
				if err != nil {
					refusedN.Add(1)
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				if got := rawAuth(t, nodes[(w+i+1)%3], user, "localhost", tok); got != "success" {
					refusedN.Add(1)
					first.CompareAndSwap(nil, got)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	waitLogins := func(what string, n int64) {
		t.Helper()
		from := ok.Load()
		clusterEventually(t, what, func() bool { return ok.Load() >= from+n })
	}
	waitLogins("logins before the rotation", 10)
	before := []string{n1.Mint(t, "early@localhost"), n2.Mint(t, "early@localhost"), n3.Mint(t, "early@localhost")}
	res, err := n2.RotateRAM(context.Background(), "localhost")
	if err != nil || len(res.Keys) != 2 {
		t.Fatalf("RotateRAM = %+v, %v", res, err)
	}
	clusterEventually(t, "every node holds two versions", func() bool {
		for _, n := range nodes {
			if n.KeyVersions("localhost", "access_secret") != 2 {
				return false
			}
		}
		return true
	})
	for i, n := range nodes {
		if got := rawAuth(t, n, "early", "localhost", before[(i+1)%3]); got != "success" {
			t.Fatalf("a token minted before the rotation, on %s after it: %s", n.ClusterNode().Name(), got)
		}
	}
	waitLogins("logins after the rotation", 10)
	clusterEventually(t, "the old keys gone from every node", func() bool {
		for _, n := range nodes {
			if n.KeyVersions("localhost", "access_secret") != 1 || n.KeyVersions("localhost", "otp_seed") != 1 {
				return false
			}
		}
		return true
	})
	if time.Now().Before(res.Old) {
		t.Fatalf("the old keys went before %v", res.Old)
	}
	waitLogins("logins after the old keys went", 10)
	close(stop)
	wg.Wait()
	if n := refusedN.Load(); n != 0 {
		t.Fatalf("%d of %d logins refused around the rotation; the first: %v", n, n+ok.Load(), first.Load())
	}
	t.Logf("%d logins across the rotation, none refused", ok.Load())
}
