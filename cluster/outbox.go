package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Route never waits for another node. Each peer has an outbox: a bounded
// queue of stanzas and one goroutine that moves them, in order, onto the
// link to that peer (dialling it when it is down, waiting while a slow
// peer's link is full). The caller is a session's read loop: with a queue
// per peer, one stuck node fills its own outbox and has its stanzas
// refused with ErrQueueFull, while every other peer's traffic and the
// sender's next stanza go on.

// stanzaQueue is how many stanzas wait for one peer before Route refuses
// more (on top of the link's own queue and the kernel's socket buffers).
const stanzaQueue = 1024

// outboxRetry is the pause before an outbox tries a link again after a
// dial failed or a link closed under it.
const outboxRetry = 100 * time.Millisecond

// ErrQueueFull says the stanzas waiting for a peer fill its queue: the peer
// is slow or unreachable. The stanza is not sent; the server answers its
// sender as for a recipient it cannot reach.
var ErrQueueFull = errors.New("cluster: the stanza queue to the node is full")

type outbox struct {
	peer  string
	queue chan []byte // encoded stanza frames
	// ctx ends when the peer left (what waits is dropped) or the node
	// stops.
	ctx    context.Context
	cancel context.CancelFunc
	// pending counts the stanzas queued and not yet on the link (the one
	// the drainer holds included): Stop's flush waits for zero.
	pending atomic.Int64
	// warned is set when a refusal was logged, and cleared once the queue
	// ran empty: one log line per congestion, not one per stanza.
	warned atomic.Bool
	// mu orders Route's queueing with the drainer's end, as outLink.qmu
	// does for a link: once closed is set, what the queue held was handed
	// back, and Route queues nothing more.
	mu     sync.RWMutex
	closed bool
}

// Route sends a stanza to the node named to, over the link to it; to may be
// this node, whose Stanza hook then gets it directly. It never blocks: the
// stanza is queued for the peer and sent in order after the ones queued
// before it, and ErrQueueFull says the peer's queue is full (the stanza is
// dropped, counted in Stats.StanzasDropped). It never waits. Delivery is
// acknowledged on the link, not to the caller: the receiving node answers a
// stanza whose recipient is gone with an error stanza routed back, as for any
// stanza, and a stanza that never reaches the peer's hooks (still queued when
// the peer left, or sent on a link that died before the peer acked it: a
// crash) comes back through Hooks.Undelivered. A node that stops delivers
// what it queued: see Stop.
func (n *Node) Route(to string, stanza []byte) error {
	return n.route(to, stanza, kindStanza)
}

// RouteSole is Route for a stanza that no other node is given: the
// receiving node's Hooks.SoleStanza gets it, and answers for it when it
// reaches no one there. The server uses it for a message for a bare JID
// that one node alone has available resources for, so that resources going
// unavailable while it travels bounce it as on a single server.
func (n *Node) RouteSole(to string, stanza []byte) error {
	return n.route(to, stanza, kindStanzaSole)
}

func (n *Node) route(to string, stanza []byte, kind byte) error {
	if len(stanza) == 0 {
		return errors.New("cluster: empty stanza")
	}
	if len(stanza) > maxFrame-1 {
		return fmt.Errorf("cluster: stanza of %d bytes is over the link limit", len(stanza))
	}
	if to == n.name {
		b := append([]byte(nil), stanza...)
		if kind == kindStanzaSole {
			n.hooks.sole(n.name, b)
		} else if n.hooks.Stanza != nil {
			n.hooks.Stanza(n.name, b)
		}
		return nil
	}
	if _, ok := n.member(to); !ok {
		return fmt.Errorf("%w: %q", ErrUnknownNode, to)
	}
	ob, link, err := n.outboxOf(to)
	if err != nil {
		return err
	}
	b := (&frame{kind: kind, payload: stanza}).encode()
	// Nothing waits in the outbox (not even the stanza its drainer holds)
	// and the link is up with room: straight onto it, which is what the
	// drainer would do next, without the hop through its goroutine.
	if ob.pending.Load() == 0 && link != nil && link.tryQueue(b) {
		return nil
	}
	ob.mu.RLock()
	if ob.closed {
		ob.mu.RUnlock()
		if n.ctx.Err() != nil {
			return ErrStopped
		}
		return fmt.Errorf("%w: %q", ErrUnknownNode, to)
	}
	ob.pending.Add(1)
	select {
	case ob.queue <- b:
		ob.mu.RUnlock()
		return nil
	default:
		ob.pending.Add(-1)
	}
	ob.mu.RUnlock()
	n.dropped.Add(1)
	if !ob.warned.Swap(true) {
		n.log.Warn("cluster: stanza queue to a node is full; refusing stanzas for it until it drains", "peer", to, "queue", stanzaQueue)
	}
	return fmt.Errorf("%w: %q", ErrQueueFull, to)
}

// outboxOf returns the peer's outbox, starting it when there is none, and
// the link to the peer when one is up.
func (n *Node) outboxOf(peer string) (*outbox, *outLink, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return nil, nil, ErrStopped
	}
	if ob := n.outboxes[peer]; ob != nil {
		return ob, n.out[peer], nil
	}
	ob := &outbox{peer: peer, queue: make(chan []byte, stanzaQueue)}
	ob.ctx, ob.cancel = context.WithCancel(n.ctx)
	n.outboxes[peer] = ob
	n.wg.Add(1)
	go n.drain(ob)
	return ob, n.out[peer], nil
}

// flushWait bounds how long Stop waits for the outboxes to empty.
const flushWait = time.Second

// flushOutboxes waits, for at most flushWait or until ctx ends, until
// every outbox handed its stanzas to its link, then says bye on every link
// and waits for the peers' answers: each peer has then handled everything
// this node sent it.
func (n *Node) flushOutboxes(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, flushWait)
	defer cancel()
	for {
		n.mu.Lock()
		var waiting int64
		for _, ob := range n.outboxes {
			waiting += ob.pending.Load()
		}
		n.mu.Unlock()
		if waiting == 0 {
			break
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	n.mu.Lock()
	links := make([]*outLink, 0, len(n.out))
	for _, l := range n.out {
		links = append(links, l)
	}
	n.mu.Unlock()
	bye := (&frame{kind: kindBye}).encode()
	for _, l := range links {
		if l.sendWait(ctx, bye) != nil {
			continue
		}
		select {
		case <-l.byeAck:
		case <-l.done:
		case <-ctx.Done():
			return
		}
	}
}

// closeOutbox drops a peer's outbox when memberlist says the peer is gone:
// its stanzas would find no one, and go back through Hooks.Undelivered.
func (n *Node) closeOutbox(peer string) {
	n.mu.Lock()
	ob := n.outboxes[peer]
	delete(n.outboxes, peer)
	n.mu.Unlock()
	if ob != nil {
		ob.cancel()
	}
}

// drain moves an outbox's stanzas onto the link to its peer, in order.
func (n *Node) drain(ob *outbox) {
	defer n.wg.Done()
	defer ob.cancel()
	for {
		select {
		case <-ob.ctx.Done():
			ob.mu.Lock()
			ob.closed = true
			var left [][]byte
			for more := true; more; {
				select {
				case b := <-ob.queue:
					left = append(left, b)
					ob.pending.Add(-1)
				default:
					more = false
				}
			}
			ob.mu.Unlock()
			for _, b := range left {
				n.undelivered(ob.peer, b)
			}
			return
		case b := <-ob.queue:
			if !n.sendOut(ob, b) {
				n.undelivered(ob.peer, b)
			}
			ob.pending.Add(-1)
			if len(ob.queue) == 0 {
				ob.warned.Store(false)
			}
		}
	}
}

// sendOut puts one frame on the link to the outbox's peer, dialling and
// retrying while the peer is a live member; false when it gave up.
func (n *Node) sendOut(ob *outbox, b []byte) bool {
	for {
		l, err := n.link(ob.ctx, ob.peer)
		if err == nil {
			// sendWait waits while the link's queue is full, and fails
			// when the link closes: the frame was not queued, so it is
			// sent again on the next link.
			err = l.sendWait(ob.ctx, b)
		}
		if err == nil {
			return true
		}
		if _, live := n.member(ob.peer); !live || errors.Is(err, ErrStopped) {
			return false
		}
		t := time.NewTimer(outboxRetry)
		select {
		case <-t.C:
		case <-ob.ctx.Done():
			t.Stop()
			return false
		}
	}
}

// undelivered counts an encoded stanza frame routed to peer that will never
// reach it, and hands the stanza back to the server.
func (n *Node) undelivered(peer string, b []byte) {
	n.dropped.Add(1)
	if n.hooks.Undelivered != nil {
		n.hooks.Undelivered(peer, append([]byte(nil), b[5:]...), b[4] == kindStanzaSole)
	}
}
