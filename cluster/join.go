package cluster

import (
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// joinOrBootstrap runs once per node, in the background of Start.
//
// Without seeds the node starts a cluster: it generates the RAM keys. With
// seeds it tries them until one answers; memberlist's push/pull inside Join
// hands it the cluster's keys, and it generates only those the cluster lacks.
// When no seed answers within join_timeout it starts alone after all, logs
// why, and keeps trying the seeds: when it reaches them, the key merge picks
// one key per (host, name) for everyone.
func (n *Node) joinOrBootstrap() {
	defer n.wg.Done()
	seeds := n.seeds()
	if len(seeds) == 0 {
		n.becomeReady("started a new cluster (no seeds to join)")
		return
	}
	deadline := time.Now().Add(n.opts.JoinTimeout.Duration)
	wait := 100 * time.Millisecond
	for {
		if n.tryJoin(seeds) {
			n.awaitSessions(sessionsWait)
			n.becomeReady("joined the cluster")
			break
		}
		if time.Now().After(deadline) {
			n.log.Warn("cluster: no seed answered within join_timeout; starting a cluster alone and still looking for the seeds",
				"join", seeds, "join_timeout", n.opts.JoinTimeout.Duration)
			n.becomeReady("started a new cluster (seeds unreachable)")
			break
		}
		if !n.sleep(wait) {
			return
		}
		wait = min(wait*2, 2*time.Second)
	}
	// Seeds that are not members (a partition that outlived memberlist's
	// memory of the dead, a node that started alone) are tried again, so
	// that two sides merge as soon as one can reach a seed on the other.
	every := 5 * time.Second
	if n.opts.seekEvery > 0 {
		every = n.opts.seekEvery
	}
	for n.sleep(every) {
		if missing := n.missingSeeds(seeds); len(missing) > 0 {
			n.tryJoin(missing)
		}
	}
}

// sessionsWait bounds how long a node that joined waits for its peers'
// session snapshots before it is ready anyway: a peer's link is up within
// one handshake, and a peer that crashed is declared dead within seconds.
const sessionsWait = handshakeTimeout

// awaitSessions waits, at most wait, until the directory holds the session
// snapshot of every live peer: each peer dials this node on hearing it
// join, and its link opens with the snapshot. Until then a session bound
// here would not see the user's resources on that peer: its first presence
// would reach none of them, nor would it be given theirs (RFC 6121 section
// 4.2.2), and messages for the bare JID would miss them.
func (n *Node) awaitSessions(wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		missing, synced := n.dir.missing(n.Members()[1:]) // all but this node
		if len(missing) == 0 {
			return
		}
		select {
		case <-synced:
		case <-t.C:
			n.log.Warn("cluster: ready without the sessions of some members; their users' resources there are unseen until their links come up",
				"peers", missing, "waited", wait)
			return
		case <-n.ctx.Done():
			return
		}
	}
}

// missingSeeds returns the seeds whose address is no live member's.
func (n *Node) missingSeeds(seeds []string) []string {
	live := make(map[string]bool)
	n.memMu.RLock()
	for _, m := range n.members {
		live[m.gossipAddr()] = true
	}
	n.memMu.RUnlock()
	var out []string
	for _, s := range seeds {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			continue
		}
		found := false
		if ips, err := net.LookupIP(host); err == nil {
			for _, ip := range ips {
				if live[net.JoinHostPort(ip.String(), port)] {
					found = true
				}
			}
		}
		if !found {
			out = append(out, s)
		}
	}
	return out
}

// tryJoin reports whether the node now has company.
func (n *Node) tryJoin(seeds []string) bool {
	if _, err := n.ml.Join(seeds); err != nil {
		n.log.Debug("cluster: join attempt failed", "join", seeds, "err", err)
	}
	return n.ml.NumMembers() > 1
}

// seeds is the join list without this node's own gossip address, so one
// list can be given to every node.
func (n *Node) seeds() []string {
	n.memMu.RLock()
	self := n.self
	n.memMu.RUnlock()
	var out []string
	for _, s := range n.opts.Join {
		host, port, err := net.SplitHostPort(s)
		if err == nil && port == strconv.Itoa(int(self.port)) {
			if ips, err := net.LookupIP(host); err == nil && slices.ContainsFunc(ips, self.addr.Equal) {
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// becomeReady generates the RAM keys the cluster lacks, sends them to the
// other members, and opens Ready.
func (n *Node) becomeReady(how string) {
	made, err := n.keys.ensure(n.hooks.RAMKeys, time.Now())
	if err != nil {
		// crypto/rand failed: nothing sensible can go on.
		n.log.Error(err.Error())
		return
	}
	if made != nil {
		n.pushKeys(made)
	}
	n.checkKeySizes()
	n.log.Info("cluster: "+how, "members", n.ml.NumMembers())
	n.readyOnce.Do(func() { close(n.ready) })
	n.nudge()
}

// pushKeys sends newly generated keys to every member over memberlist's
// encrypted TCP (a 2048-byte key does not fit a gossip packet). A member
// that misses it still gets it at the next push/pull.
func (n *Node) pushKeys(encoded []byte) {
	msg := append([]byte{msgKeys}, encoded...)
	n.memMu.RLock()
	peers := make([]*memberlist.Node, 0, len(n.members))
	for name, m := range n.members {
		peers = append(peers, &memberlist.Node{Name: name, Addr: m.addr, Port: m.port})
	}
	n.memMu.RUnlock()
	for _, p := range peers {
		if err := n.ml.SendReliable(p, msg); err != nil {
			n.log.Debug("cluster: pushing RAM keys failed; push/pull will carry them", "peer", p.Name, "err", err)
		}
	}
}

// checkKeySizes logs a key whose size differs from this node's
// ram_key_size: the nodes' configurations disagree. The cluster's key is
// used regardless, so that every node verifies every token.
func (n *Node) checkKeySizes() {
	for _, w := range n.hooks.RAMKeys {
		if k, ok := n.keys.get(w.Host, w.Name); ok && len(k) != w.Size {
			n.log.Error("cluster: the cluster's RAM key has another size than this node's ram_key_size; using the cluster's",
				"host", w.Host, "key", w.Name, "cluster_size", len(k), "ram_key_size", w.Size)
		}
	}
}
