package sasl

import (
	"encoding/binary"
	"math"
	"sync"
)

// DefaultReplayCacheSize is a replay cache size for NewReplayCache that holds
// three 30 second windows of logins at more than 10,000 logins per second,
// about 60 MB when full.
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
	mu      sync.Mutex
	limit   int                   // this shard's share of the maximum
	entries map[replayKey]int64   // key -> expiry, Unix seconds
	expiry  map[int64][]replayKey // expiry -> keys, to drop expired ones without a scan
	next    int64                 // the earliest expiry in the shard
	_       [64]byte              // keep shards' locks on separate cache lines
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
		s.entries = make(map[replayKey]int64)
		s.expiry = make(map[int64][]replayKey)
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
		n += len(s.entries)
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

// use records the token whose signature gives k as used until expiresAt (Unix
// seconds), at time now. It fails with not-authorized if the token is already
// held, and with temporary-auth-failure if the cache is full of live tokens.
func (c *ReplayCache) use(k replayKey, expiresAt, now int64) *Error {
	s := &c.shards[k[0]&uint64(len(c.shards)-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if now >= s.next {
		s.dropExpired(now)
	}
	// One map operation in the common case: insert, and learn from the
	// length whether the token was there already. What is there is live
	// (expired entries were just dropped) and has the same expiry, since
	// the same token matches the same time step.
	n := len(s.entries)
	if n >= s.limit {
		if _, ok := s.entries[k]; ok {
			return errReplay
		}
		return errReplayFull
	}
	s.entries[k] = expiresAt
	if len(s.entries) == n {
		return errReplay
	}
	s.expiry[expiresAt] = append(s.expiry[expiresAt], k)
	if expiresAt < s.next {
		s.next = expiresAt
	}
	return nil
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

// dropExpired removes the shard's entries whose expiry is not after now.
// The shard is locked. A key is in the bucket of the expiry it was recorded
// with, and only there.
func (s *replayShard) dropExpired(now int64) {
	next := int64(math.MaxInt64)
	for exp, keys := range s.expiry {
		if exp > now {
			next = min(next, exp)
			continue
		}
		for _, k := range keys {
			delete(s.entries, k)
		}
		delete(s.expiry, exp)
	}
	s.next = next
}
