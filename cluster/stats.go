package cluster

// Stats is a snapshot of a node's cluster state, for metrics and the admin
// API. It holds no key material.
type Stats struct {
	Members        int // live members, this node included
	Links          int // outgoing links up
	RemoteSessions int // full JIDs bound on other nodes, as this node knows them
	ReplayHeld     int // token ids this node holds as a replay owner
	// StanzasDropped counts stanzas routed to a peer that never reached
	// it: refused by a full queue (Route's ErrQueueFull), waiting when the
	// peer left, or on a link that died before the peer acked them.
	StanzasDropped uint64
	// ReplayFallbacks counts replay checks that asked a fallback member
	// because an owner did not answer (crashed, link down, slow).
	ReplayFallbacks uint64
	Ready           bool // joined or started alone
}

// Stats returns the node's figures now.
func (n *Node) Stats() Stats {
	var s Stats
	s.Members = len(n.Members())
	n.mu.Lock()
	s.Links = len(n.out)
	s.StanzasDropped = n.dropped.Load()
	s.ReplayFallbacks = n.replayFallbacks.Load()
	n.mu.Unlock()
	n.dir.mu.RLock()
	for _, o := range n.dir.origins {
		s.RemoteSessions += len(o.jids)
	}
	n.dir.mu.RUnlock()
	n.replay.mu.Lock()
	s.ReplayHeld = len(n.replay.seen)
	n.replay.mu.Unlock()
	select {
	case <-n.ready:
		s.Ready = true
	default:
	}
	return s
}
