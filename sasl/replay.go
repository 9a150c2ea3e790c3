package sasl

import (
	"encoding/binary"
	"math"
	"sync"
)

// DefaultReplayCacheSize is a replay cache size for NewReplayCache that holds
// three 30 second windows of logins at more than 10,000 logins per second.
// Full, it takes about 45 MB (some 44 bytes a token, measured).
const DefaultReplayCacheSize = 1 << 20

// Sharding of the replay cache: at most maxReplayShards locks, each holding at
// least minShardSize entries, so a small cache is one exact shard.
const (
	maxReplayShards = 64
	minShardSize    = 4096
)

// ReplayCache remembers the tokens that logged in, so that each is accepted
// once, until they can no longer verify. It is shared by every host (a reload
// makes new verifiers but keeps the cache) and safe for concurrent use.
//
// An entry is the first 128 bits of the token's signature, which is already a
// keyed hash of (host, node, OTP || NONCE): HMAC-SHA256 under the host's
// secret of OTP || NONCE || node "@" host. It is fixed size and cheap to
// compare, only verified tokens reach the cache, and no client can make two
// valid signatures collide without the secret. (It is not secret either: the
// client sent it.)
//
// Entries are grouped by the time step of the token's OTP, which a token
// carries in itself: one step's tokens all stop verifying at the same moment,
// and are then dropped together, map and all, with no work per token. So a
// check is one map operation, and there is no clean-up to pay per login.
//
// The cache never forgets a token that could still verify: when it is full it
// refuses new ones (temporary-auth-failure) rather than evict them. Entries
// are spread over up to 64 shards by their hash, each holding its share of
// the maximum, so that logins on different cores share no lock and no
// counter; a large cache therefore reports full when its fullest shard is,
// at about 97% of the maximum for the default size.
type ReplayCache struct {
	max    int
	shards []replayShard
}

type replayKey [2]uint64

type replayShard struct {
	mu    sync.Mutex
	limit int          // this shard's share of the maximum
	n     int          // entries held
	steps []*replayGen // one per OTP time step with tokens held
	free  []*replayGen // emptied, kept to be reused without growing a map again
	next  int64        // the earliest expiry of steps
	_     [64]byte     // keep shards' locks on separate cache lines
}

// replayGen holds the used tokens of one OTP time step.
type replayGen struct {
	start   int64 // the step's first second, Unix time
	expires int64 // when its tokens stop verifying
	keys    map[replayKey]struct{}
}

// NewReplayCache returns a cache holding at most max tokens; max < 1 means
// DefaultReplayCacheSize.
func NewReplayCache(max int) *ReplayCache {
	if max < 1 {
		max = DefaultReplayCacheSize
	}
	n := 1
	for n < maxReplayShards && max/(2*n) >= minShardSize {
		n *= 2
	}
	c := &ReplayCache{max: max, shards: make([]replayShard, n)}
	for i := range c.shards {
		s := &c.shards[i]
		s.limit = max / n
		if i < max%n {
			s.limit++
		}
		s.next = math.MaxInt64
	}
	return c
}

// Len returns the number of tokens held, expired ones not yet dropped included.
func (c *ReplayCache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// Max returns the most tokens the cache holds.
func (c *ReplayCache) Max() int { return c.max }

// replayKeyOf is the cache's key for a verified token's signature.
func replayKeyOf(sig *[32]byte) replayKey {
	return replayKey{binary.LittleEndian.Uint64(sig[:8]), binary.LittleEndian.Uint64(sig[8:16])}
}

// use records the token whose signature gives k, and whose OTP is of the
// time step starting at step (Unix seconds), as used until expiresAt, at time
// now. It fails with not-authorized if the token is already held, and with
// temporary-auth-failure if the cache is full of live tokens.
func (c *ReplayCache) use(k replayKey, step, expiresAt, now int64) *Error {
	s := &c.shards[k[0]&uint64(len(c.shards)-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if now >= s.next {
		s.dropExpired(now)
	}
	var g *replayGen
	for _, sg := range s.steps {
		if sg.start == step {
			g = sg
			break
		}
	}
	if s.n >= s.limit {
		if g != nil {
			if _, ok := g.keys[k]; ok {
				return errReplay
			}
		}
		return errReplayFull
	}
	if g == nil {
		g = s.newGen(step)
	}
	// Insert, and learn from the length whether the token was there already:
	// one map operation.
	l := len(g.keys)
	g.keys[k] = struct{}{}
	if len(g.keys) == l {
		return errReplay
	}
	s.n++
	// Verifiers of other options (a reload) may see the same step expire
	// later: the step's tokens are kept until the latest.
	if expiresAt > g.expires {
		g.expires = expiresAt
	}
	if g.expires < s.next {
		s.next = g.expires
	}
	return nil
}

func (s *replayShard) newGen(step int64) *replayGen {
	var g *replayGen
	if n := len(s.free); n > 0 {
		g, s.free = s.free[n-1], s.free[:n-1]
	} else {
		g = &replayGen{keys: make(map[replayKey]struct{})}
	}
	g.start, g.expires = step, 0
	s.steps = append(s.steps, g)
	return g
}

// sweep drops the expired entries of every shard.
func (c *ReplayCache) sweep(now int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		if now >= s.next {
			s.dropExpired(now)
		}
		s.mu.Unlock()
	}
}

// dropExpired drops the steps whose tokens no longer verify at now, keeping
// a few emptied maps for the steps to come. The shard is locked.
func (s *replayShard) dropExpired(now int64) {
	next := int64(math.MaxInt64)
	live := s.steps[:0]
	for _, g := range s.steps {
		if g.expires > now {
			next = min(next, g.expires)
			live = append(live, g)
			continue
		}
		s.n -= len(g.keys)
		if len(s.free) < 4 {
			clear(g.keys)
			s.free = append(s.free, g)
		}
	}
	clear(s.steps[len(live):])
	s.steps = live
	s.next = next
}
