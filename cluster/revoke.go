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
	Kick     bool
}

// revokeTimeout bounds how long Revoke waits for a slow peer's link.
const revokeTimeout = 2 * time.Second

// Revoke sends r to every live peer at once, on the links stanzas take
// (dialled when down), and returns the peers it could not reach, sorted. A
// peer cut off by a partition never hears of it: the revocation is not kept
// for a node that joins later (the README says what that means). This node
// does not apply r itself: its caller does.
func (n *Node) Revoke(ctx context.Context, r Revocation) (unreached []string) {
	if r.JID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	b := (&frame{kind: kindRevoke, revoke: r}).encode()
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
				n.log.Warn("cluster: a revocation did not reach a peer", "peer", peer, "jid", r.JID, "err", err)
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
