package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// BenchmarkCheckAndRemember measures a login's replay check in a two-node
// cluster, where both nodes own every user: one local check and one round
// trip over the link.
func BenchmarkCheckAndRemember(b *testing.B) {
	secret := writeSecretB(b)
	n1 := startNodeB(b, "n1", secret, nil, nil)
	n2 := startNodeB(b, "n2", secret, []string{n1.GossipAddr()}, nil)
	waitB(b, func() bool { return len(n1.Members()) == 2 && len(n2.Members()) == 2 })
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	var i atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := make([]byte, 16)
		for pb.Next() {
			binary.BigEndian.PutUint64(id, i.Add(1))
			fresh, err := n2.CheckAndRemember(ctx, "a.test", "alice", id, exp)
			if err != nil || !fresh {
				b.Errorf("%v %v", fresh, err)
				return
			}
		}
	})
}

// BenchmarkRoute measures stanzas sent from one node to another's hook.
func BenchmarkRoute(b *testing.B) {
	secret := writeSecretB(b)
	var got atomic.Int64
	n1 := startNodeB(b, "n1", secret, nil, func(string, []byte) { got.Add(1) })
	n2 := startNodeB(b, "n2", secret, []string{n1.GossipAddr()}, nil)
	waitB(b, func() bool { return len(n1.Members()) == 2 && len(n2.Members()) == 2 })
	stanza := []byte("<message to='alice@a.test/phone' from='bob@a.test/desk' type='chat'><body>hello, this is a message of a typical size</body></message>")
	b.SetBytes(int64(len(stanza)))
	b.ResetTimer()
	for range b.N {
		// Route never waits: a full queue is a refusal, and the sender
		// (like the server answering resource-constraint) tries again.
		for {
			err := n2.Route("n1", stanza)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrQueueFull) {
				b.Fatal(err)
			}
			runtime.Gosched()
		}
	}
	waitB(b, func() bool { return got.Load() >= int64(b.N) })
}

func writeSecretB(b *testing.B) string {
	dir := b.TempDir()
	return writeSecretIn(b, dir)
}

func startNodeB(b *testing.B, name, secret string, join []string, hook func(string, []byte)) *Node {
	opts := Options{NodeName: name, Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: join, SecretFile: secret, tune: fastTimers}
	n, err := Start(context.Background(), opts, nil, Hooks{RAMKeys: testKeys, Stanza: hook})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Stop(context.Background()) })
	if err := n.WaitReady(context.Background()); err != nil {
		b.Fatal(err)
	}
	return n
}

func waitB(b *testing.B, cond func() bool) {
	testkit.Eventually(b, deadline, "condition not met", cond)
}
