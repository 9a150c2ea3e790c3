package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// The session directory says on which node a full JID is bound. Every node
// holds all of it: lookups on the routing path are a map read, never a
// network round trip.
//
// Each node is the only writer of its own sessions. It sends them to every
// peer over its link: first a snapshot, then each bind and unbind in order,
// all numbered by one counter. A peer applies a change only when it is the
// next number; a gap (which an ordered link cannot produce, short of a bug)
// drops the link, and the new link starts with a fresh snapshot. Sessions of
// a node that leaves or is declared dead are dropped the moment memberlist
// says so, so stanzas for them get service-unavailable rather than vanish.
//
// One full JID bound on two nodes (a client that reconnected to another
// node before its old session timed out, or two sides of a partition that
// merge) is a resource conflict, resolved as on a single server: the newer
// session stays. Each bind carries its wall-clock time; the node holding the
// older session is told through Hooks.Conflict, and closes it. Equal times
// go to the node whose name sorts last. (Clocks that disagree by more than
// the time between the two binds pick the wrong one; run NTP.)

// Binding is one bound full JID and the node it is bound on.
type Binding struct {
	JID  string
	Node string
}

// errStaleLink says a link predates its peer's last drop: memberlist saw the
// peer leave (or flap) since. The link is closed and the peer dials anew.
var errStaleLink = errors.New("link from before the peer was last dropped")

type origin struct {
	instance [16]byte
	version  uint64
	jids     map[string]int64 // full JID -> bound at
}

// placement is one node a full JID is bound on, and since when.
type placement struct {
	node string
	at   int64
}

type directory struct {
	mu      sync.RWMutex
	origins map[string]*origin
	gens    map[string]uint64 // bumped when a node's sessions are dropped
	// byBare indexes every remote binding: bare JID -> full JID -> the
	// nodes it is bound on (more than one only during a conflict).
	byBare map[string]map[string][]placement
}

func newDirectory() *directory {
	return &directory{
		origins: make(map[string]*origin),
		gens:    make(map[string]uint64),
		byBare:  make(map[string]map[string][]placement),
	}
}

func bareOf(full string) string {
	bare, _, _ := strings.Cut(full, "/")
	return bare
}

func (d *directory) generation(node string) uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.gens[node]
}

// apply takes a sessions or session frame from a peer's link, and returns
// the sessions it (re)bound, for the conflict check.
func (d *directory) apply(l *inLink, f frame) ([]session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gens[l.peer] != l.gen {
		// The peer was dropped since this link came up: its frames are stale.
		return nil, errStaleLink
	}
	o := d.origins[l.peer]
	switch f.kind {
	case kindSessions:
		if o != nil && o.instance == l.instance && f.version < o.version {
			return nil, nil // an older snapshot from a link being replaced
		}
		d.removeAll(l.peer, o)
		o = &origin{instance: l.instance, version: f.version, jids: make(map[string]int64, len(f.sessions))}
		d.origins[l.peer] = o
		for _, s := range f.sessions {
			d.add(l.peer, o, s.jid, s.at)
		}
		return f.sessions, nil
	case kindSession:
		if o == nil || o.instance != l.instance {
			return nil, fmt.Errorf("session change before a snapshot")
		}
		switch {
		case f.version <= o.version:
			return nil, nil // already seen
		case f.version > o.version+1:
			return nil, fmt.Errorf("session change %d after %d", f.version, o.version)
		}
		o.version = f.version
		if !f.bound {
			d.remove(l.peer, o, f.jid)
			return nil, nil
		}
		d.add(l.peer, o, f.jid, f.at)
		return []session{{f.jid, f.at}}, nil
	}
	return nil, nil
}

func (d *directory) add(node string, o *origin, jid string, at int64) {
	d.remove(node, o, jid)
	o.jids[jid] = at
	bare := bareOf(jid)
	m := d.byBare[bare]
	if m == nil {
		m = make(map[string][]placement)
		d.byBare[bare] = m
	}
	m[jid] = append(m[jid], placement{node, at})
}

func (d *directory) remove(node string, o *origin, jid string) {
	if _, ok := o.jids[jid]; !ok {
		return
	}
	delete(o.jids, jid)
	bare := bareOf(jid)
	m := d.byBare[bare]
	if m == nil {
		return
	}
	m[jid] = slices.DeleteFunc(m[jid], func(p placement) bool { return p.node == node })
	if len(m[jid]) == 0 {
		delete(m, jid)
	}
	if len(m) == 0 {
		delete(d.byBare, bare)
	}
}

func (d *directory) removeAll(node string, o *origin) {
	if o == nil {
		return
	}
	for j := range o.jids {
		d.remove(node, o, j)
	}
}

// drop forgets every session of a node that left.
func (d *directory) drop(node string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removeAll(node, d.origins[node])
	delete(d.origins, node)
	d.gens[node]++
}

// newest is the placement a conflict leaves standing.
func newest(ps []placement) placement {
	best := ps[0]
	for _, p := range ps[1:] {
		if p.at > best.at || p.at == best.at && p.node > best.node {
			best = p
		}
	}
	return best
}

func (d *directory) lookup(full string) (placement, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	ps := d.byBare[bareOf(full)][full]
	if len(ps) == 0 {
		return placement{}, false
	}
	return newest(ps), true
}

func (d *directory) bindings(bare string) []placementOf {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []placementOf
	for j, ps := range d.byBare[bare] {
		out = append(out, placementOf{j, newest(ps)})
	}
	return out
}

type placementOf struct {
	jid string
	placement
}

// Bind records that full is bound on this node and tells every peer. The
// server calls it once resource binding succeeded. A session of the same
// full JID on another node is older, and that node is told to close it.
func (n *Node) Bind(full string) { n.setBound(full, true) }

// Unbind records that full is no longer bound here and tells every peer.
func (n *Node) Unbind(full string) { n.setBound(full, false) }

func (n *Node) setBound(full string, bound bool) {
	n.sessMu.Lock()
	defer n.sessMu.Unlock()
	if _, ok := n.local[full]; ok == bound {
		return
	}
	var at int64
	if bound {
		at = time.Now().UnixNano()
		n.local[full] = at
	} else {
		delete(n.local, full)
	}
	n.sessVersion++
	b := (&frame{kind: kindSession, version: n.sessVersion, bound: bound, jid: full, at: at}).encode()
	n.mu.Lock()
	links := make([]*outLink, 0, len(n.out))
	for _, l := range n.out {
		links = append(links, l)
	}
	n.mu.Unlock()
	for _, l := range links {
		l.send(b) // a failed link is re-made with a snapshot
	}
}

// snapshotLocked is the sessions frame for a new link; sessMu is held.
func (n *Node) snapshotLocked() *frame {
	f := &frame{kind: kindSessions, version: n.sessVersion, sessions: make([]session, 0, len(n.local))}
	for j, at := range n.local {
		f.sessions = append(f.sessions, session{j, at})
	}
	return f
}

// conflicts tells the server about local sessions that a peer's newer bind
// of the same full JID displaces.
func (n *Node) conflicts(peer string, bound []session) {
	var lost []string
	n.sessMu.Lock()
	for _, s := range bound {
		mine, ok := n.local[s.jid]
		if ok && (s.at > mine || s.at == mine && peer > n.name) {
			lost = append(lost, s.jid)
		}
	}
	n.sessMu.Unlock()
	for _, j := range lost {
		n.log.Debug("cluster: a session was bound anew on another node", "peer", peer)
		if n.hooks.Conflict != nil {
			n.hooks.Conflict(j)
		}
	}
}

// Lookup says which node full is bound on: this node's name for a local
// session, false when no node has it. During a conflict it names the node
// of the newer session.
func (n *Node) Lookup(full string) (node string, ok bool) {
	n.sessMu.Lock()
	at, local := n.local[full]
	n.sessMu.Unlock()
	p, remote := n.dir.lookup(full)
	switch {
	case local && remote:
		if p.at > at || p.at == at && p.node > n.name {
			return p.node, true
		}
		return n.name, true
	case local:
		return n.name, true
	}
	return p.node, remote
}

// Bindings lists every full JID of a bare JID bound anywhere in the
// cluster, sorted by JID, each with the node of its newest session.
func (n *Node) Bindings(bare string) []Binding {
	byJID := make(map[string]placement)
	for _, p := range n.dir.bindings(bare) {
		byJID[p.jid] = p.placement
	}
	n.sessMu.Lock()
	for j, at := range n.local {
		if bareOf(j) != bare {
			continue
		}
		if p, ok := byJID[j]; !ok || at > p.at || at == p.at && n.name > p.node {
			byJID[j] = placement{n.name, at}
		}
	}
	n.sessMu.Unlock()
	out := make([]Binding, 0, len(byJID))
	for j, p := range byJID {
		out = append(out, Binding{JID: j, Node: p.node})
	}
	slices.SortFunc(out, func(a, b Binding) int { return strings.Compare(a.JID, b.JID) })
	return out
}
