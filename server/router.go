package server

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/xtokend/xtokend/cluster"
)

// router is how a server reaches sessions on other nodes: it is told of
// every local bind and unbind, and asked where a JID is bound elsewhere and
// to send a stanza there. A server on its own has localRouter, to which no
// other node exists; a cluster node has clusterRouter. Nothing else in the
// server asks whether there is a cluster.
type router interface {
	// bind tells the other nodes that full is bound here (replacing says a
	// local session of the same full JID was just replaced, so the bind
	// carries a new time); unbind that it is not any more.
	bind(full string, replacing bool)
	unbind(full string)
	// setAvailability publishes what a session's broadcast presence made it.
	setAvailability(full string, available bool, priority int8)
	// lookup is the other node where full is bound; false when none is.
	lookup(full string) (node string, ok bool)
	// bindings are bare's resources on other nodes.
	bindings(bare string) []cluster.Binding
	// send queues an encoded stanza for node without waiting; sole says no
	// other node gets it (cluster.Node.RouteSole). cluster.ErrQueueFull
	// says the node is not keeping up.
	send(node string, b []byte, sole bool) error
	// spread sends a revocation or kick to every other node and returns
	// those it did not reach (Server.Revoke).
	spread(ctx context.Context, r cluster.Revocation) []string
	// rotateRAM draws new bytes for a host's RAM keys (old: name to the
	// key in force), on every node, the old ones kept for keep there
	// (Server.RotateRAM).
	rotateRAM(host string, old map[string][]byte, keep time.Duration) (map[string][]byte, error)
	// shareFAST sends a FAST token event to every other node and returns
	// those it did not reach.
	shareFAST(ctx context.Context, event []byte) (unreached []string)
}

// localRouter is a server on its own: no other node has anything bound.
type localRouter struct{}

func (localRouter) bind(string, bool)                  {}
func (localRouter) unbind(string)                      {}
func (localRouter) setAvailability(string, bool, int8) {}
func (localRouter) lookup(string) (string, bool)       { return "", false }
func (localRouter) bindings(string) []cluster.Binding  { return nil }
func (localRouter) send(string, []byte, bool) error    { return cluster.ErrUnknownNode }

// clusterRouter routes through a cluster node's session directory and its
// links to the other nodes. The node is set once cluster.Start returns; the
// node's hooks may route before that, and find no node.
type clusterRouter struct{ node atomic.Pointer[cluster.Node] }

func (r *clusterRouter) bind(full string, replacing bool) {
	n := r.node.Load()
	if replacing {
		n.Unbind(full) // so the new bind carries a new time
	}
	n.Bind(full)
}

func (r *clusterRouter) unbind(full string) { r.node.Load().Unbind(full) }

func (r *clusterRouter) setAvailability(full string, available bool, priority int8) {
	r.node.Load().SetAvailability(full, available, priority)
}

func (r *clusterRouter) lookup(full string) (string, bool) {
	n := r.node.Load()
	if n == nil {
		return "", false
	}
	where, ok := n.Lookup(full)
	if !ok || where == n.Name() {
		return "", false
	}
	return where, true
}

func (r *clusterRouter) bindings(bare string) []cluster.Binding {
	n := r.node.Load()
	if n == nil {
		return nil
	}
	var out []cluster.Binding
	for _, b := range n.Bindings(bare) {
		if b.Node != n.Name() {
			out = append(out, b)
		}
	}
	return out
}

func (r *clusterRouter) send(node string, b []byte, sole bool) error {
	n := r.node.Load()
	switch {
	case n == nil:
		return cluster.ErrStopped
	case sole:
		return n.RouteSole(node, b)
	}
	return n.Route(node, b)
}

// send queues b for node through the router. It never waits: a slow node
// refuses with cluster.ErrQueueFull (the node logs that, once per
// congestion), a node gone since the lookup with cluster.ErrUnknownNode.
func (s *Server) send(node string, b []byte, sole bool) error {
	err := s.router.send(node, b, sole)
	if err != nil && !errors.Is(err, cluster.ErrQueueFull) {
		s.logger().Debug("cluster: routing a stanza failed", "peer", node, "err", err)
	}
	return err
}
