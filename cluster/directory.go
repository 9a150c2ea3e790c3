package cluster

import (
	"errors"
	"fmt"
	"maps"
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

// Binding is one bound full JID, the node it is bound on, and whether its
// broadcast presence made it available (and with which priority): what
// routing to a bare JID needs to decide as a single server would (RFC 6121
// section 8.5.2).
type Binding struct {
	JID       string
	Node      string
	Available bool
	Priority  int8
}

// errStaleLink says a link predates its peer's last drop: memberlist saw the
// peer leave (or flap) since. The link is closed and the peer dials anew.
var errStaleLink = errors.New("link from before the peer was last dropped")

type origin struct {
	instance [16]byte
	version  uint64
	jids     map[string]entry // full JID -> its binding
}

// entry is one session a node has bound: since when, and its availability.
type entry struct {
	at int64
	presence
}

// placement is one node a full JID is bound on, since when, and how
// available it is there.
type placement struct {
	node string
	at   int64
	presence
}

type directory struct {
	mu      sync.RWMutex
	origins map[string]*origin
	gens    map[string]uint64 // bumped when a node's sessions are dropped
	// byBare indexes every remote binding: bare JID -> full JID -> the
	// nodes it is bound on (more than one only during a conflict).
	byBare map[string]map[string][]placement
	// synced is closed, and replaced, whenever the set of nodes whose
	// snapshot is held changes: a joining node waits on it (awaitSessions).
	synced chan struct{}
}

func newDirectory() *directory {
	return &directory{
		origins: make(map[string]*origin),
		gens:    make(map[string]uint64),
		byBare:  make(map[string]map[string][]placement),
		synced:  make(chan struct{}),
	}
}

// missing returns those of nodes whose session snapshot the directory does
// not hold, and a channel closed at the next snapshot taken or node dropped.
func (d *directory) missing(nodes []string) ([]string, <-chan struct{}) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []string
	for _, n := range nodes {
		if d.origins[n] == nil {
			out = append(out, n)
		}
	}
	return out, d.synced
}

// syncedLocked wakes those waiting in missing.
func (d *directory) syncedLocked() {
	close(d.synced)
	d.synced = make(chan struct{})
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
		o = &origin{instance: l.instance, version: f.version, jids: make(map[string]entry, len(f.sessions))}
		d.origins[l.peer] = o
		for _, s := range f.sessions {
			d.add(l.peer, o, s.jid, entry{s.at, s.presence})
		}
		d.syncedLocked()
		return f.sessions, nil
	case kindSession, kindAvailability:
		if o == nil || o.instance != l.instance {
			return nil, fmt.Errorf("session change before a snapshot")
		}
		switch {
		case f.version <= o.version:
			return nil, nil // already seen
		case f.version > o.version+1:
			return nil, fmt.Errorf("session change %d after %d", f.version, o.version)
		}
		if f.kind == kindAvailability {
			e, ok := o.jids[f.jid]
			if !ok {
				return nil, fmt.Errorf("availability of a session not bound")
			}
			o.version = f.version
			e.presence = f.avail
			d.add(l.peer, o, f.jid, e)
			return nil, nil
		}
		o.version = f.version
		if !f.bound {
			d.remove(l.peer, o, f.jid)
			return nil, nil
		}
		d.add(l.peer, o, f.jid, entry{at: f.at})
		return []session{{jid: f.jid, at: f.at}}, nil
	}
	return nil, nil
}

func (d *directory) add(node string, o *origin, jid string, e entry) {
	d.remove(node, o, jid)
	o.jids[jid] = e
	bare := bareOf(jid)
	m := d.byBare[bare]
	if m == nil {
		m = make(map[string][]placement)
		d.byBare[bare] = m
	}
	m[jid] = append(m[jid], placement{node, e.at, e.presence})
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

// drop forgets every session of a node that left, and returns those it
// held that no other node has bound, sorted by JID.
func (d *directory) drop(node string) []Binding {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.origins[node]
	defer d.syncedLocked()
	if o == nil {
		d.gens[node]++
		return nil
	}
	held := maps.Clone(o.jids)
	d.removeAll(node, o)
	delete(d.origins, node)
	d.gens[node]++
	var gone []Binding
	for j, e := range held {
		if len(d.byBare[bareOf(j)][j]) == 0 {
			gone = append(gone, Binding{JID: j, Node: node, Available: e.available, Priority: e.priority})
		}
	}
	slices.SortFunc(gone, func(a, b Binding) int { return strings.Compare(a.JID, b.JID) })
	return gone
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
// server calls it once resource binding succeeded. The session starts
// unavailable (SetAvailability changes that). A session of the same full JID
// on another node is older, and that node is told to close it.
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
		n.local[full] = entry{at: at}
	} else {
		delete(n.local, full)
	}
	n.sessVersion++
	n.publishLocked((&frame{kind: kindSession, version: n.sessVersion, bound: bound, jid: full, at: at}).encode())
}

// SetAvailability records the availability and priority a session bound
// here took with its broadcast presence (RFC 6121 section 4.2 and 4.5), and
// tells every peer, in order with the session's bind and unbind: peers
// route a message for the bare JID only to nodes with an available resource
// of non-negative priority, as a single server does. A full JID not bound
// here, or no change, does nothing.
func (n *Node) SetAvailability(full string, available bool, priority int8) {
	n.sessMu.Lock()
	defer n.sessMu.Unlock()
	e, ok := n.local[full]
	p := presence{available: available, priority: priority}
	if !ok || e.presence == p {
		return
	}
	e.presence = p
	n.local[full] = e
	n.sessVersion++
	n.publishLocked((&frame{kind: kindAvailability, version: n.sessVersion, jid: full, avail: p}).encode())
}

// publishLocked queues a session change on every link; sessMu is held.
func (n *Node) publishLocked(b []byte) {
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
	for j, e := range n.local {
		f.sessions = append(f.sessions, session{j, e.at, e.presence})
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
		if ok && (s.at > mine.at || s.at == mine.at && peer > n.name) {
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
	mine, local := n.local[full]
	n.sessMu.Unlock()
	p, remote := n.dir.lookup(full)
	switch {
	case local && remote:
		if p.at > mine.at || p.at == mine.at && p.node > n.name {
			return p.node, true
		}
		return n.name, true
	case local:
		return n.name, true
	}
	return p.node, remote
}

// Bindings lists every full JID of a bare JID bound anywhere in the
// cluster, sorted by JID, each with the node of its newest session and
// that session's availability as its node last published it.
func (n *Node) Bindings(bare string) []Binding {
	byJID := make(map[string]placement)
	for _, p := range n.dir.bindings(bare) {
		byJID[p.jid] = p.placement
	}
	n.sessMu.Lock()
	for j, e := range n.local {
		if bareOf(j) != bare {
			continue
		}
		if p, ok := byJID[j]; !ok || e.at > p.at || e.at == p.at && n.name > p.node {
			byJID[j] = placement{n.name, e.at, e.presence}
		}
	}
	n.sessMu.Unlock()
	out := make([]Binding, 0, len(byJID))
	for j, p := range byJID {
		out = append(out, Binding{JID: j, Node: p.node, Available: p.available, Priority: p.priority})
	}
	slices.SortFunc(out, func(a, b Binding) int { return strings.Compare(a.JID, b.JID) })
	return out
}

// AllBindings lists every full JID bound anywhere in the cluster, this
// node's included, sorted by JID, each with the node of its newest session
// and that session's availability: for the admin API's session list.
func (n *Node) AllBindings() []Binding {
	byJID := make(map[string]placement)
	n.dir.mu.RLock()
	for _, m := range n.dir.byBare {
		for j, ps := range m {
			byJID[j] = newest(ps)
		}
	}
	n.dir.mu.RUnlock()
	n.sessMu.Lock()
	for j, e := range n.local {
		if p, ok := byJID[j]; !ok || e.at > p.at || e.at == p.at && n.name > p.node {
			byJID[j] = placement{n.name, e.at, e.presence}
		}
	}
	n.sessMu.Unlock()
	out := make([]Binding, 0, len(byJID))
	for j, p := range byJID {
		out = append(out, Binding{JID: j, Node: p.node, Available: p.available, Priority: p.priority})
	}
	slices.SortFunc(out, func(a, b Binding) int { return strings.Compare(a.JID, b.JID) })
	return out
}
