package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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
	jids     map[string]struct{}
}

type directory struct {
	mu      sync.RWMutex
	origins map[string]*origin
	gens    map[string]uint64 // bumped when a node's sessions are dropped
	// byBare indexes every remote binding: bare JID -> full JID -> node.
	byBare map[string]map[string]string
}

func newDirectory() *directory {
	return &directory{
		origins: make(map[string]*origin),
		gens:    make(map[string]uint64),
		byBare:  make(map[string]map[string]string),
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

// apply takes a sessions or session frame from a peer's link.
func (d *directory) apply(l *inLink, f frame) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gens[l.peer] != l.gen {
		// The peer was dropped since this link came up: its frames are stale.
		return errStaleLink
	}
	o := d.origins[l.peer]
	switch f.kind {
	case kindSessions:
		if o != nil && o.instance == l.instance && f.version < o.version {
			return nil // an older snapshot from a link being replaced
		}
		d.removeAll(l.peer, o)
		o = &origin{instance: l.instance, version: f.version, jids: make(map[string]struct{}, len(f.jids))}
		d.origins[l.peer] = o
		for _, j := range f.jids {
			d.add(l.peer, o, j)
		}
	case kindSession:
		if o == nil || o.instance != l.instance {
			return fmt.Errorf("session change before a snapshot")
		}
		switch {
		case f.version <= o.version:
			return nil // already seen
		case f.version > o.version+1:
			return fmt.Errorf("session change %d after %d", f.version, o.version)
		}
		o.version = f.version
		if f.bound {
			d.add(l.peer, o, f.jid)
		} else {
			d.remove(l.peer, o, f.jid)
		}
	}
	return nil
}

func (d *directory) add(node string, o *origin, jid string) {
	o.jids[jid] = struct{}{}
	bare := bareOf(jid)
	m := d.byBare[bare]
	if m == nil {
		m = make(map[string]string)
		d.byBare[bare] = m
	}
	m[jid] = node
}

func (d *directory) remove(node string, o *origin, jid string) {
	delete(o.jids, jid)
	bare := bareOf(jid)
	if m := d.byBare[bare]; m != nil && m[jid] == node {
		delete(m, jid)
		if len(m) == 0 {
			delete(d.byBare, bare)
		}
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

func (d *directory) lookup(full string) (string, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	node, ok := d.byBare[bareOf(full)][full]
	return node, ok
}

func (d *directory) bindings(bare string) []Binding {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []Binding
	for j, node := range d.byBare[bare] {
		out = append(out, Binding{JID: j, Node: node})
	}
	return out
}

// Bind records that full is bound on this node and tells every peer.
// The server calls it once resource binding succeeded.
func (n *Node) Bind(full string) { n.setBound(full, true) }

// Unbind records that full is no longer bound here and tells every peer.
func (n *Node) Unbind(full string) { n.setBound(full, false) }

func (n *Node) setBound(full string, bound bool) {
	n.sessMu.Lock()
	defer n.sessMu.Unlock()
	if _, ok := n.local[full]; ok == bound {
		return
	}
	if bound {
		n.local[full] = struct{}{}
	} else {
		delete(n.local, full)
	}
	n.sessVersion++
	b := (&frame{kind: kindSession, version: n.sessVersion, bound: bound, jid: full}).encode()
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
	f := &frame{kind: kindSessions, version: n.sessVersion, jids: make([]string, 0, len(n.local))}
	for j := range n.local {
		f.jids = append(f.jids, j)
	}
	return f
}

// Lookup says which node full is bound on: this node's name for a local
// session, false when no node has it.
func (n *Node) Lookup(full string) (node string, ok bool) {
	n.sessMu.Lock()
	_, local := n.local[full]
	n.sessMu.Unlock()
	if local {
		return n.name, true
	}
	return n.dir.lookup(full)
}

// Bindings lists every full JID of a bare JID bound anywhere in the
// cluster, sorted by JID.
func (n *Node) Bindings(bare string) []Binding {
	out := n.dir.bindings(bare)
	n.sessMu.Lock()
	for j := range n.local {
		if bareOf(j) == bare {
			out = append(out, Binding{JID: j, Node: n.name})
		}
	}
	n.sessMu.Unlock()
	slices.SortFunc(out, func(a, b Binding) int {
		if c := strings.Compare(a.JID, b.JID); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return out
}
