package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Replay protection across the cluster.
//
// Each (host, node) pair, that is each user, has owners: the two live
// members that score highest under rendezvous hashing of (member, host,
// node). A login asks both owners to check and remember the token id, in
// parallel, and is fresh only when no owner that answered had seen it.
// Asking a node itself is a map lookup; asking a peer is one round trip on
// its link.
//
// Two owners rather than one keep a single membership change from opening a
// window: when a node joins it takes at most one of a user's two places, and
// when one leaves the other still holds the user's tokens.
//
// A crashed owner stays a member until memberlist's failure detection
// declares it dead (about 5 seconds with its LAN timers). Meanwhile an owner
// whose link is down, or that has not answered within replayAskTimeout,
// is replaced in that check by the next member in rendezvous order, the
// fallback: the node that becomes the user's owner once the dead one is
// dropped. The check then holds when at least one of the two owners
// answered; with neither it fails (temporary-auth-failure), as the members
// that did answer never saw the user's earlier tokens. So a token is
// always remembered by an owner and by the owner or fallback that stays, and
// a replay is caught as long as one node that remembered it answers: one
// crash opens no window. What remains:
//   - two membership changes inside one token's lifetime (the OTP window,
//     about 90 seconds by default), or a change racing the login itself, can
//     move both places to nodes that never saw the token, which could then be
//     used once more; so can two nodes out of reach at once (the token used
//     while one owner and the fallback were out of reach, replayed while the
//     other owner is);
//   - during a partition each side has its own owners, so a token can be used
//     once on each side.

const replayReplicas = 2

// replayAskTimeout is how long a check waits for one owner before it asks
// the fallback instead. An answer takes one round trip on a link.
const replayAskTimeout = 250 * time.Millisecond

// replayAskMax bounds the members one check asks: the two owners and, for
// owners that do not answer, fallbacks.
const replayAskMax = 2 * replayReplicas

// replayDownFor is how long checks skip an owner that did not answer, going
// straight to the fallback, before they try it again: a crashed host that
// sends no reset would otherwise cost every login replayAskTimeout.
const replayDownFor = time.Second

// replayOwners returns the live members ranked for (host, node), best
// first: the first replayReplicas are its owners, the rest fallbacks.
func (n *Node) replayOwners(host, node string) []string {
	return rank(n.Members(), host, node)
}

// rendezvous returns the replayReplicas owners of (host, node) among
// members. Every node with the same member list picks the same owners, and
// a member coming or going moves only the users it owns.
func rendezvous(members []string, host, node string) []string {
	r := rank(members, host, node)
	return r[:min(len(r), replayReplicas)]
}

// rank orders members by a hash of (member, host, node), highest first.
func rank(members []string, host, node string) []string {
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
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].name
	}
	return out
}

// errOwnerDown says a check skipped an owner that recently did not answer.
var errOwnerDown = errors.New("cluster: replay owner did not answer recently")

// CheckAndRemember reports whether tokenID is fresh for node@host, and
// remembers it until expiry (when it can no longer verify). fresh is false
// for a token seen before anywhere in the cluster. An owner that does not
// answer is replaced by a fallback (see above); an error (neither owner
// answered, ErrReplayFull, ctx ending) means the login must fail with
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
	ranked := n.replayOwners(host, node)
	if len(ranked) == 0 {
		return false, fmt.Errorf("cluster: no live member to own replay state")
	}
	owners := min(len(ranked), replayReplicas)
	type answer struct {
		rank   int
		result uint64
		err    error
	}
	answers := make(chan answer, len(ranked))
	ask := func(i int) {
		member := ranked[i]
		switch {
		case member == n.name:
			answers <- answer{i, n.replay.check(host, node, tokenID, expiry, time.Now()), nil}
		case n.replayDown.skip(member, time.Now()):
			answers <- answer{rank: i, err: errOwnerDown}
		default:
			go func() {
				actx, cancel := context.WithTimeout(ctx, replayAskTimeout)
				defer cancel()
				r, err := n.askReplay(actx, member, host, node, tokenID, expiry)
				if ctx.Err() == nil && n.ctx.Err() == nil {
					n.replayDown.note(n.log, member, err, time.Now())
				}
				answers <- answer{i, r, err}
			}()
		}
	}
	next, waiting := 0, 0
	for ; next < owners; next++ {
		ask(next)
		waiting++
	}
	fresh = true
	ownerAnswered, full := false, false
	var lastErr error
	for waiting > 0 {
		a := <-answers // every ask ends within replayAskTimeout
		waiting--
		if a.err != nil {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			if errors.Is(a.err, ErrStopped) {
				return false, ErrStopped
			}
			lastErr = a.err
			if next < len(ranked) && next < replayAskMax {
				n.replayFallbacks.Add(1)
				ask(next)
				next++
				waiting++
			}
			continue
		}
		if a.rank < owners {
			ownerAnswered = true
		}
		switch a.result {
		case replayUsed:
			fresh = false
		case replayFull:
			full = true
		}
	}
	switch {
	case full:
		return false, ErrReplayFull
	case !ownerAnswered:
		return false, fmt.Errorf("cluster: no replay owner of the user answered: %w", lastErr)
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

// downOwners remembers the members that recently did not answer a replay
// check, so that checks go straight to the fallback for replayDownFor, and
// the log says once per outage that a fallback stands in.
type downOwners struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// skip reports whether member did not answer within the last replayDownFor.
func (d *downOwners) skip(member string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.until[member]
	return ok && now.Before(u)
}

// note records how an ask of member went.
func (d *downOwners) note(log *slog.Logger, member string, err error, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, was := d.until[member]
	switch {
	case err == nil && was:
		delete(d.until, member)
		log.Info("cluster: replay owner answers again", "peer", member)
	case err != nil:
		if d.until == nil {
			d.until = make(map[string]time.Time)
		}
		d.until[member] = now.Add(replayDownFor)
		if !was {
			log.Warn("cluster: replay owner does not answer; its users' logins are checked with their other owner and a fallback", "peer", member, "err", err)
		}
	}
}

// forget drops a member that left.
func (d *downOwners) forget(member string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.until, member)
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
