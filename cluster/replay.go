package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Replay protection across the cluster.
//
// Each (host, node) pair, that is each user, has owners: the two live
// members that score highest under rendezvous hashing of (member, host,
// node). A login asks both owners to check and remember the token id, in
// parallel, and is fresh only when both had not seen it. Asking a node
// itself is a map lookup; asking a peer is one round trip on its link.
//
// Two owners rather than one keep a single membership change from opening a
// window: when a node joins it takes at most one of a user's two places, and
// when one leaves the other still holds the user's tokens. What remains:
//   - two membership changes inside one token's lifetime (the OTP window,
//     about 90 seconds by default), or a change racing the login itself, can
//     move both places to nodes that never saw the token, which could then be
//     used once more;
//   - during a partition each side has its own owners, so a token can be used
//     once on each side;
//   - an owner that does not answer fails the login (temporary-auth-failure)
//     until memberlist declares it dead, a few seconds.

const replayReplicas = 2

// replayOwners returns the live members that own (host, node), best first.
func (n *Node) replayOwners(host, node string) []string {
	return rendezvous(n.Members(), host, node)
}

// rendezvous ranks members by a hash of (member, host, node) and returns
// the top replayReplicas. Every node with the same member list picks the
// same owners, and a member coming or going moves only the users it owns.
func rendezvous(members []string, host, node string) []string {
	type scored struct {
		name  string
		score uint64
	}
	s := make([]scored, len(members))
	for i, m := range members {
		h := sha256.New()
		h.Write([]byte(m))
		h.Write([]byte{0})
		h.Write([]byte(host))
		h.Write([]byte{0})
		h.Write([]byte(node))
		s[i] = scored{m, binary.BigEndian.Uint64(h.Sum(nil))}
	}
	sort.Slice(s, func(i, j int) bool {
		if s[i].score != s[j].score {
			return s[i].score > s[j].score
		}
		return s[i].name < s[j].name
	})
	out := make([]string, 0, replayReplicas)
	for i := 0; i < len(s) && i < replayReplicas; i++ {
		out = append(out, s[i].name)
	}
	return out
}

// CheckAndRemember reports whether tokenID is fresh for node@host, and
// remembers it until expiry (when it can no longer verify). fresh is false
// for a token seen before anywhere in the cluster. An error (an owner out of
// reach, ErrReplayFull, ctx ending) means the login must fail with
// temporary-auth-failure: forgetting would allow a replay. It waits for
// Ready.
func (n *Node) CheckAndRemember(ctx context.Context, host, node string, tokenID []byte, expiry time.Time) (fresh bool, err error) {
	select {
	case <-n.ctx.Done():
		return false, ErrStopped
	default:
	}
	// Before the join the node sees itself alone and would be every
	// user's only owner.
	if err := n.WaitReady(ctx); err != nil {
		return false, err
	}
	owners := n.replayOwners(host, node)
	if len(owners) == 0 {
		return false, fmt.Errorf("cluster: no live member to own replay state")
	}
	results := make([]uint64, len(owners))
	errs := make([]error, len(owners))
	var wg sync.WaitGroup
	for i, owner := range owners {
		if owner == n.name {
			results[i] = n.replay.check(host, node, tokenID, expiry, time.Now())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = n.askReplay(ctx, owner, host, node, tokenID, expiry)
		}()
	}
	wg.Wait()
	fresh = true
	for i := range owners {
		if errs[i] != nil {
			return false, errs[i]
		}
		switch results[i] {
		case replayUsed:
			fresh = false
		case replayFull:
			return false, ErrReplayFull
		}
	}
	return fresh, nil
}

func (n *Node) askReplay(ctx context.Context, owner, host, node string, tokenID []byte, expiry time.Time) (uint64, error) {
	l, err := n.link(ctx, owner)
	if err != nil {
		return 0, err
	}
	return l.request(ctx, frame{kind: kindReplayReq, host: host, node: node, tokenID: tokenID, expiry: expiry.UnixNano()})
}

// replayStore is what this node remembers as an owner: token ids until they
// expire, at most max of them. Entries are also filed by the second after
// their expiry (rounded up), so dropping the expired ones costs what is dropped, not a
// scan of everything held.
type replayStore struct {
	mu      sync.Mutex
	max     int
	seen    map[string]int64   // host NUL node NUL token id -> expiry, unix ns
	buckets map[int64][]string // expiry rounded up to a second -> keys
}

func newReplayStore(max int) *replayStore {
	return &replayStore{max: max, seen: make(map[string]int64), buckets: make(map[int64][]string)}
}

func (s *replayStore) check(host, node string, tokenID []byte, expiry, now time.Time) uint64 {
	key := host + "\x00" + node + "\x00" + string(tokenID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.seen[key]; ok && e > now.UnixNano() {
		return replayUsed
	}
	if _, ok := s.seen[key]; !ok && len(s.seen) >= s.max {
		s.sweepLocked(now)
		if len(s.seen) >= s.max {
			return replayFull // refuse rather than forget
		}
	}
	exp := expiry.UnixNano()
	s.seen[key] = exp
	b := (exp + int64(time.Second) - 1) / int64(time.Second) // its expiry, rounded up to a second
	s.buckets[b] = append(s.buckets[b], key)
	return replayFresh
}

// sweep forgets what expired.
func (s *replayStore) sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
}

func (s *replayStore) sweepLocked(now time.Time) {
	t := now.UnixNano()
	for b, keys := range s.buckets {
		if b*int64(time.Second) > t {
			continue
		}
		for _, k := range keys {
			// A key used again after it expired sits in a later bucket too;
			// only the bucket of its current expiry lets it go.
			if e, ok := s.seen[k]; ok && e <= t {
				delete(s.seen, k)
			}
		}
		delete(s.buckets, b)
	}
}
