package sasl

import (
	"crypto/rand"
	"testing"
)

func TestReplayCacheShards(t *testing.T) {
	for _, max := range []int{1, 2, 100, 8191, 8192, 10_000, 100_000, DefaultReplayCacheSize, 1<<30 + 7} {
		c := NewReplayCache(max)
		n, sum := len(c.shards), 0
		if n&(n-1) != 0 || n > maxReplayShards {
			t.Errorf("max %d: %d shards", max, n)
		}
		for i := range c.shards {
			sum += c.shards[i].limit
			if n > 1 && c.shards[i].limit < minShardSize {
				t.Errorf("max %d: shard of %d", max, c.shards[i].limit)
			}
		}
		if sum != max || c.Max() != max {
			t.Errorf("max %d: shards hold %d", max, sum)
		}
	}
	if got := NewReplayCache(0).Max(); got != DefaultReplayCacheSize {
		t.Errorf("NewReplayCache(0).Max() = %d", got)
	}
}

// TestReplayCacheFills fills a sharded cache with random keys: it never holds
// more than its maximum, and refuses only when nearly full.
func TestReplayCacheFills(t *testing.T) {
	const max = 1 << 15
	c := NewReplayCache(max)
	if len(c.shards) < 2 {
		t.Fatalf("%d shards", len(c.shards))
	}
	const now, exp = 1000, 1030
	accepted := 0
	for {
		var sig [32]byte
		rand.Read(sig[:])
		if e := c.use(replayKeyOf(&sig), 990, exp, now); e != nil {
			if e != errReplayFull {
				t.Fatal(e)
			}
			break
		}
		accepted++
	}
	if accepted > max || accepted < max*9/10 {
		t.Fatalf("full after %d of %d", accepted, max)
	}
	if c.Len() != accepted {
		t.Fatalf("Len %d, accepted %d", c.Len(), accepted)
	}
	// Once they expire there is room again, and nothing is left behind.
	var sig [32]byte
	rand.Read(sig[:])
	if e := c.use(replayKeyOf(&sig), 1020, exp+30, exp); e != nil {
		t.Fatal(e)
	}
	c.sweep(exp)
	if c.Len() != 1 {
		t.Fatalf("after expiry Len %d, want 1", c.Len())
	}
}
