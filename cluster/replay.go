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
// declares it dead (about 5 seconds with its LAN timers). Meanwhile a check
// does not wait for it: an owner whose link cannot be made (a dead process's
// host refuses the connection) or that has not answered within
// replayAskTimeout (a host gone silent) is backed by the next member in
// rendezvous order, the fallback: the node that becomes the user's owner
// once the dead one is dropped. The check is complete with two answers of
// which at least one is an owner's; with one owner's answer when every
// other member asked failed outright (a two-node cluster with one node
// dead); and fails (temporary-auth-failure) when no owner answers, as the
// members that did answer never saw the user's earlier tokens. An owner
// that is merely slow is still waited for when the fallback is no faster,
// so load alone never leaves a token remembered by one node, and two checks
// in one membership meet on a node (see replayAskMax). So a token is
// remembered by two of its owners and fallback, and a replay is caught as
// long as one node that remembered it answers: one crash opens no window.
// What remains:
//   - two faults inside one token's lifetime (the OTP window, about 90
//     seconds by default) can let it be used once more: two membership
//     changes, or a change racing the login itself, which can move both
//     places to nodes that never saw the token; a change and owners slower
//     than replayAskTimeout at the token's first use and at its replay; or
//     two nodes out of reach at once (the token used while one owner and the
//     fallback were, replayed while the other owner is);
//   - during a partition each side has its own owners, so a token can be used
//     once on each side.

const replayReplicas = 2

// replayAskTimeout is how long a check waits for one member before it
// also asks the next in rendezvous order. An answer takes one round trip on
// a link.
const replayAskTimeout = 250 * time.Millisecond

// replayAskMax bounds the members one check asks: the two owners and one
// fallback. Two answers out of the same three members always share one, so
// two checks of a token, each complete with two answers, meet on a node that
// remembers it, whichever members were slow.
const replayAskMax = replayReplicas + 1

// replayCheckTimeout bounds a check whose owners neither answer nor fail
// (stuck, not crashed): the login fails rather than hang.
const replayCheckTimeout = 5 * time.Second

// replayDownFor is how long checks back an owner that failed or was slow
// with the fallback from the start, rather than after replayAskTimeout: a
// host gone without a reset would otherwise cost every login that long.
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

// CheckAndRemember reports whether tokenID is fresh for node@host, and
// remembers it until expiry (when it can no longer verify). fresh is false
// for a token seen before anywhere in the cluster. An owner that does not
// answer is backed by a fallback (see above); an error (no owner answered,
// ErrReplayFull, ctx ending) means the login must fail with
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
	ranked = ranked[:min(len(ranked), replayAskMax)]
	owners := min(len(ranked), replayReplicas)

	// Asks still going when the check is complete are cancelled: what they
	// were told is remembered all the same.
	cctx, cancel := context.WithTimeout(ctx, replayCheckTimeout)
	defer cancel()
	type event struct {
		rank   int
		slow   bool // no answer yet after replayAskTimeout
		result uint64
		err    error
	}
	events := make(chan event, 2*len(ranked)) // an answer and a slow mark per ask: never blocks
	backed := make([]bool, len(ranked))       // the next member was asked in its stead
	next, outstanding := 0, 0
	ask := func(i int) {
		outstanding++
		member := ranked[i]
		if member == n.name {
			events <- event{rank: i, result: n.replay.check(host, node, tokenID, expiry, time.Now())}
			return
		}
		wait := replayAskTimeout
		if n.replayDown.down(member, time.Now()) {
			wait = 0
		}
		slow := time.AfterFunc(wait, func() { events <- event{rank: i, slow: true} })
		go func() {
			start := time.Now()
			r, err := n.askReplay(cctx, member, host, node, tokenID, expiry)
			slow.Stop()
			if ctx.Err() == nil && n.ctx.Err() == nil {
				n.replayDown.note(n.log, member, err, time.Since(start) >= replayAskTimeout, time.Now())
			}
			events <- event{rank: i, result: r, err: err}
		}()
	}
	backUp := func(i int) {
		if backed[i] || next >= len(ranked) {
			return
		}
		backed[i] = true
		n.replayFallbacks.Add(1)
		ask(next)
		next++
	}
	for ; next < owners; next++ {
		ask(next)
	}
	fresh = true
	answers, ownerAnswered, full := 0, false, false
	var lastErr error
	for outstanding > 0 && (answers < owners || !ownerAnswered) {
		var e event
		select {
		case e = <-events:
		case <-cctx.Done():
			if err := ctx.Err(); err != nil {
				return false, err
			}
			return false, fmt.Errorf("cluster: no replay owner of the user answered within %s", replayCheckTimeout)
		}
		if e.slow {
			backUp(e.rank)
			continue
		}
		outstanding--
		if e.err != nil {
			if errors.Is(e.err, ErrStopped) {
				return false, ErrStopped
			}
			if err := ctx.Err(); err != nil {
				return false, err
			}
			lastErr = e.err
			backUp(e.rank)
			continue
		}
		answers++
		if e.rank < owners {
			ownerAnswered = true
		}
		switch e.result {
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

// downOwners remembers the members that recently failed or were slow to
// answer a replay check, so that checks ask the fallback at once for
// replayDownFor, and the log says once per outage that a fallback stands in.
type downOwners struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// down reports whether member failed or was slow within the last
// replayDownFor.
func (d *downOwners) down(member string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.until[member]
	return ok && now.Before(u)
}

// note records how an ask of member went: err, or an answer (or a
// cancellation) after replayAskTimeout or longer (slow).
func (d *downOwners) note(log *slog.Logger, member string, err error, slow bool, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, was := d.until[member]
	if err == nil && !slow || errors.Is(err, context.Canceled) && !slow {
		if was && err == nil {
			delete(d.until, member)
			log.Debug("cluster: replay owner answers in time again", "peer", member)
		}
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) && !was {
		log.Warn("cluster: replay owner out of reach; its users' logins are checked with their other owner and the next member", "peer", member, "err", err)
	}
	if d.until == nil {
		d.until = make(map[string]time.Time)
	}
	d.until[member] = now.Add(replayDownFor)
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
