package cluster

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// Revocation is an operator's order that every node applies: the tokens of
// a bare JID minted until At are refused and its sessions end (Resource ""),
// or the sessions of one full JID end. Kick ends the session of the full JID
// JID/Resource and revokes nothing.
type Revocation struct {
	JID      string // a bare JID
	Resource string // "" for every session of JID
	At       time.Time
	// Until is when the revocation is forgotten: it is sent again on every
	// link that comes up until then, so a node that joins, or comes back
	// from a partition, learns it. A kick is never sent again.
	Until time.Time
	Kick  bool
}

// revokeTimeout bounds how long Revoke waits for a slow peer's link.
const revokeTimeout = 2 * time.Second

// Revoke sends r to every live peer at once, on the links stanzas take
// (dialled when down), and returns the peers it could not reach, sorted.
// Until r.Until, every link this node opens later (to a node that joins, or
// one back from a partition) carries r again, and so do the links of every
// node that received it: a peer that missed it learns it when it is linked
// again. This node does not apply r itself: its caller does.
func (n *Node) Revoke(ctx context.Context, r Revocation) (unreached []string) {
	if r.JID == "" {
		return nil
	}
	n.revs.remember(r)
	return n.sendAll(ctx, (&frame{kind: kindRevoke, revoke: r}).encode(), "a revocation", "jid", r.JID)
}

// sendAll sends the frame b to every live peer at once, on the links
// stanzas take (dialled when down), waiting at most revokeTimeout, and
// returns the peers it could not reach, sorted. what and logArgs name it in
// the log line of a peer missed.
func (n *Node) sendAll(ctx context.Context, b []byte, what string, logArgs ...any) (unreached []string) {
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, peer := range n.Members() {
		if peer == n.name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := errors.New("no link")
			if l, lerr := n.link(ctx, peer); lerr == nil {
				err = l.sendWait(ctx, b)
			}
			if err != nil {
				n.log.Warn("cluster: "+what+" did not reach a peer", append([]any{"peer", peer, "err", err}, logArgs...)...)
				mu.Lock()
				unreached = append(unreached, peer)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(unreached)
	return unreached
}

// revocationLog is what Revoke and the links remember of revocations, for
// the links that come up later: the latest per JID (and resource) until its
// Until.
type revocationLog struct {
	mu   sync.Mutex
	live map[string]Revocation
}

func (l *revocationLog) remember(r Revocation) {
	if r.Kick || !time.Now().Before(r.Until) {
		return
	}
	key := r.JID + "/" + r.Resource
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.live == nil {
		l.live = make(map[string]Revocation)
	}
	if old, ok := l.live[key]; !ok || old.At.Before(r.At) {
		l.live[key] = r
	}
}

// current drops what has expired and returns the rest.
func (l *revocationLog) current() []Revocation {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Revocation
	for key, r := range l.live {
		if !now.Before(r.Until) {
			delete(l.live, key)
			continue
		}
		out = append(out, r)
	}
	return out
}

// resendRevocations queues the revocations in force on a new link, in the
// background: the queue may be full, and the link is usable meanwhile.
func (n *Node) resendRevocations(l *outLink) {
	revs := n.revs.current()
	if len(revs) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(n.ctx, revokeTimeout)
		defer cancel()
		for _, r := range revs {
			if err := l.sendWait(ctx, (&frame{kind: kindRevoke, revoke: r}).encode()); err != nil {
				return
			}
		}
	}()
}
