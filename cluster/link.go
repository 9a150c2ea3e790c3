package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

const (
	handshakeTimeout = 10 * time.Second
	writeTimeout     = 10 * time.Second
	// sendQueue is how many frames wait for a slow peer before the link is
	// dropped (and re-made with a fresh session snapshot).
	sendQueue = 4096
	// ackEvery bounds the stanzas a listener handles before it acks them
	// while more keep arriving.
	ackEvery = 64
)

var errLinkClosed = errors.New("cluster: link closed")

// outLink is this node's connection to one peer: the only way it sends to
// that peer. One writer goroutine drains the queue; one reader takes the
// replies to replay requests.
type outLink struct {
	n     *Node
	peer  string
	conn  net.Conn
	queue chan []byte
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan uint64
	// unacked are the stanza frames written and not yet acked by the peer,
	// oldest first; acked counts those acked. What is unacked when the link
	// dies is handed back (Hooks.Undelivered).
	unacked [][]byte
	acked   uint64

	// qmu orders queueing with the link's end: senders hold it shared while
	// they queue, and the writer, once the link is closed, takes it to set
	// drained and hand back what is left in the queue. No frame is queued
	// unseen after that.
	qmu     sync.RWMutex
	drained bool

	byeOnce sync.Once
	byeAck  chan struct{} // closed when the peer answered this node's bye
}

// sendWait queues an encoded frame, waiting while the queue is full: a
// stanza or request waits for a slow peer rather than be lost.
func (l *outLink) sendWait(ctx context.Context, b []byte) error {
	l.qmu.RLock()
	defer l.qmu.RUnlock()
	if l.drained {
		return errLinkClosed
	}
	select {
	case l.queue <- b:
		return nil
	case <-l.done:
		return errLinkClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryQueue queues an encoded frame when the queue has room; false when it
// is full or the link closed.
func (l *outLink) tryQueue(b []byte) bool {
	l.qmu.RLock()
	defer l.qmu.RUnlock()
	if l.drained {
		return false
	}
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.queue <- b:
		return true
	default:
		return false
	}
}

// send queues an encoded session change; it never blocks, as it runs with
// the session lock held. A full queue means the peer is not keeping up: the
// link is dropped, and the next one starts with a snapshot, which loses
// nothing.
func (l *outLink) send(b []byte) error {
	l.qmu.RLock()
	defer l.qmu.RUnlock()
	if l.drained {
		return errLinkClosed
	}
	select {
	case <-l.done:
		return errLinkClosed
	default:
	}
	select {
	case l.queue <- b:
		return nil
	default:
		l.n.log.Warn("cluster: link send queue full; dropping the link", "peer", l.peer)
		l.close()
		return errLinkClosed
	}
}

func (l *outLink) close() {
	l.once.Do(func() {
		close(l.done)
		l.conn.Close()
		l.n.mu.Lock()
		if l.n.out[l.peer] == l {
			delete(l.n.out, l.peer)
		}
		l.n.mu.Unlock()
		l.mu.Lock()
		for id, ch := range l.pending {
			close(ch)
			delete(l.pending, id)
		}
		l.mu.Unlock()
		l.n.nudge()
	})
}

func (l *outLink) writeLoop() {
	defer l.n.wg.Done()
	w := bufio.NewWriterSize(l.conn, 32<<10)
	for {
		select {
		case <-l.done:
			l.handBack()
			return
		case b := <-l.queue:
			l.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			l.track(b)
			_, err := w.Write(b)
			// Write what is queued in one go, then flush.
			for err == nil && len(l.queue) > 0 {
				b = <-l.queue
				l.track(b)
				_, err = w.Write(b)
			}
			if err == nil {
				err = w.Flush()
			}
			if err != nil {
				l.n.log.Debug("cluster: link write failed", "peer", l.peer, "err", err)
				l.close()
				l.handBack()
				return
			}
		}
	}
}

// isStanzaFrame reports whether an encoded frame carries a stanza.
func isStanzaFrame(b []byte) bool {
	return len(b) > 5 && (b[4] == kindStanza || b[4] == kindStanzaSole)
}

// track keeps a stanza frame about to be written until the peer acks it.
func (l *outLink) track(b []byte) {
	if !isStanzaFrame(b) {
		return
	}
	l.mu.Lock()
	l.unacked = append(l.unacked, b)
	l.mu.Unlock()
}

// ack takes the peer's count of stanzas handled; false when it counts more
// than were sent or fewer than before.
func (l *outLink) ack(count uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if count < l.acked || count-l.acked > uint64(len(l.unacked)) {
		return false
	}
	k := int(count - l.acked)
	clear(l.unacked[:k])
	l.unacked = l.unacked[k:]
	l.acked = count
	return true
}

// handBack runs once the link is closed: the stanzas the peer did not ack,
// then those never written, go back to the server in the order they were
// routed.
func (l *outLink) handBack() {
	l.qmu.Lock()
	l.drained = true
	var left [][]byte
	for more := true; more; {
		select {
		case b := <-l.queue:
			left = append(left, b)
		default:
			more = false
		}
	}
	l.qmu.Unlock()
	l.mu.Lock()
	lost := append(l.unacked, left...)
	l.unacked = nil
	l.mu.Unlock()
	for _, b := range lost {
		if isStanzaFrame(b) {
			l.n.undelivered(l.peer, b)
		}
	}
}

func (l *outLink) readLoop() {
	defer l.n.wg.Done()
	defer l.close()
	r := bufio.NewReader(l.conn)
	var buf []byte
	for {
		var f frame
		var err error
		f, buf, err = readFrame(r, buf)
		if err != nil {
			return
		}
		if f.kind == kindBye {
			l.byeOnce.Do(func() { close(l.byeAck) })
			continue
		}
		if f.kind == kindAck {
			if !l.ack(f.acked) {
				l.n.log.Warn("cluster: a peer acked stanzas it was not sent", "peer", l.peer)
				return
			}
			continue
		}
		if f.kind != kindReplayResp {
			l.n.log.Warn("cluster: unexpected frame on an outgoing link", "peer", l.peer, "kind", f.kind)
			return
		}
		l.mu.Lock()
		ch, ok := l.pending[f.id]
		delete(l.pending, f.id)
		l.mu.Unlock()
		if ok {
			ch <- f.result
		}
	}
}

// request sends a replay request and waits for its answer.
func (l *outLink) request(ctx context.Context, f frame) (uint64, error) {
	ch := make(chan uint64, 1)
	l.mu.Lock()
	// close ends done before it closes what is pending: a request seen
	// here on an open link is closed with the rest.
	select {
	case <-l.done:
		l.mu.Unlock()
		return 0, errLinkClosed
	default:
	}
	l.nextID++
	f.id = l.nextID
	if l.pending == nil {
		l.pending = make(map[uint64]chan uint64)
	}
	l.pending[f.id] = ch
	l.mu.Unlock()
	if err := l.sendWait(ctx, f.encode()); err != nil {
		l.mu.Lock()
		delete(l.pending, f.id)
		l.mu.Unlock()
		return 0, err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return 0, fmt.Errorf("cluster: link to %q closed before it answered", l.peer)
		}
		return r, nil
	case <-ctx.Done():
		l.mu.Lock()
		delete(l.pending, f.id)
		l.mu.Unlock()
		return 0, ctx.Err()
	}
}

// link returns the link to a live peer, dialling it when there is none.
// Concurrent callers for one peer share one dial.
func (n *Node) link(ctx context.Context, peer string) (*outLink, error) {
	for {
		n.mu.Lock()
		if n.stopped {
			n.mu.Unlock()
			return nil, ErrStopped
		}
		if l := n.out[peer]; l != nil {
			n.mu.Unlock()
			return l, nil
		}
		if ch, ok := n.dialing[peer]; ok {
			n.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		n.dialing[peer] = ch
		n.mu.Unlock()
		l, err := n.dial(ctx, peer)
		n.mu.Lock()
		delete(n.dialing, peer)
		close(ch)
		n.mu.Unlock()
		return l, err
	}
}

func (n *Node) dial(ctx context.Context, peer string) (*outLink, error) {
	m, ok := n.member(peer)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownNode, peer)
	}
	addr := m.meta
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: node %q advertises no link address", peer)
	}
	if host == "" {
		addr = net.JoinHostPort(m.addr.String(), port)
	}
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	d := tls.Dialer{Config: n.clientTLS}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: link to %q at %s: %v", peer, addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if err := n.hello(conn, peer); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cluster: link to %q at %s: %v", peer, addr, err)
	}
	conn.SetDeadline(time.Time{})
	l := &outLink{n: n, peer: peer, conn: conn, queue: make(chan []byte, sendQueue), done: make(chan struct{}), byeAck: make(chan struct{})}

	// Register the link and queue the session snapshot under sessMu, so no
	// session change slips between the snapshot and the link's first op.
	n.sessMu.Lock()
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		n.sessMu.Unlock()
		conn.Close()
		return nil, ErrStopped
	}
	if old := n.out[peer]; old != nil {
		// Lost a race with another dial; keep the one already in use.
		n.mu.Unlock()
		n.sessMu.Unlock()
		conn.Close()
		return old, nil
	}
	// The snapshot is the link's first frame: queued before the link is
	// visible to anyone who could queue a stanza or a change on it.
	l.queue <- n.snapshotLocked().encode()
	n.out[peer] = l
	n.wg.Add(2)
	n.mu.Unlock()
	n.sessMu.Unlock()
	go l.writeLoop()
	go l.readLoop()
	n.log.Debug("cluster: link up", "peer", peer)
	n.resendRevocations(l)
	return l, nil
}

// hello exchanges hello frames on the dialling side; want is the peer's
// expected name.
func (n *Node) hello(conn net.Conn, want string) error {
	mine := frame{kind: kindHello, name: n.name, instance: n.instance, version: protocolVersion}
	if _, err := conn.Write(mine.encode()); err != nil {
		return err
	}
	f, _, err := readFrame(conn, nil)
	if err != nil {
		return err
	}
	if f.kind != kindHello {
		return fmt.Errorf("first frame is kind %d, not hello", f.kind)
	}
	if f.version != protocolVersion {
		return fmt.Errorf("peer speaks link protocol %d, this node %d", f.version, protocolVersion)
	}
	if want != "" && f.name != want {
		return fmt.Errorf("peer says it is %q", f.name)
	}
	return nil
}

// keepLinks keeps a link to every live member and drops links to members
// gone. It wakes on membership events, and every second to retry.
func (n *Node) keepLinks() {
	defer n.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.wake:
		case <-tick.C:
			n.replay.sweep(time.Now())
		}
		// Links are made from the join on, before Ready: a joining node
		// waits for its peers' session snapshots (awaitSessions), and two
		// nodes joining each other at once each wait for the other's.
		live := make(map[string]bool)
		for _, name := range n.Members() {
			live[name] = true
		}
		n.mu.Lock()
		var gone []*outLink
		for name, l := range n.out {
			if !live[name] {
				gone = append(gone, l)
			}
		}
		var goneIn []*inLink
		for l := range n.in {
			if !live[l.peer] {
				goneIn = append(goneIn, l)
			}
		}
		var missing []string
		for name := range live {
			if name != n.name && n.out[name] == nil && n.dialing[name] == nil {
				missing = append(missing, name)
			}
		}
		n.mu.Unlock()
		for _, l := range gone {
			l.close()
		}
		for _, l := range goneIn {
			l.raw.Close()
		}
		for _, name := range missing {
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				_, err := n.link(n.ctx, name)
				n.mu.Lock()
				first := err != nil && !n.failing[name]
				if err != nil {
					n.failing[name] = true
				} else {
					delete(n.failing, name)
				}
				n.mu.Unlock()
				switch {
				case first && n.ctx.Err() == nil:
					// Once per outage: a firewall closing link_listen shows.
					n.log.Warn("cluster: cannot open a link to a member; retrying every second", "peer", name, "err", err)
				case err != nil:
					n.log.Debug("cluster: link not up yet", "peer", name, "err", err)
				}
			}()
		}
	}
}

// inLink is a connection a peer dialled: this node reads stanzas, replay
// requests and session changes from it, and writes only replay answers.
type inLink struct {
	peer     string
	instance [16]byte
	conn     net.Conn
	raw      net.Conn // under the TLS: closing it never blocks
	gen      uint64   // the directory generation of peer when the link came up
}

// awaitMember waits up to d for name to be a live member.
func (n *Node) awaitMember(name string, d time.Duration) bool {
	end := time.Now().Add(d)
	for {
		if _, ok := n.member(name); ok {
			return true
		}
		if time.Now().After(end) || !n.sleep(20*time.Millisecond) {
			return false
		}
	}
}

// closeLinksOf closes both links with a peer memberlist declared gone. Its
// sessions are dropped already; when it comes back, the links are made anew
// and start with a snapshot. It runs inside memberlist's callbacks, so the
// closing (which takes locks and may write) is done aside.
func (n *Node) closeLinksOf(peer string) {
	n.mu.Lock()
	out := n.out[peer]
	var ins []*inLink
	for l := range n.in {
		if l.peer == peer {
			ins = append(ins, l)
		}
	}
	n.mu.Unlock()
	go func() {
		if out != nil {
			out.close()
		}
		for _, l := range ins {
			l.raw.Close()
		}
	}()
}

func (n *Node) acceptLinks() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			if n.ctx.Err() != nil {
				return
			}
			n.log.Warn("cluster: accepting a link", "err", err)
			if !n.sleep(100 * time.Millisecond) {
				return
			}
			continue
		}
		n.wg.Add(1)
		go n.serveLink(c)
	}
}

func (n *Node) serveLink(raw net.Conn) {
	defer n.wg.Done()
	defer raw.Close()
	conn := tls.Server(raw, n.serverTLS)
	conn.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := conn.Handshake(); err != nil {
		n.log.Warn("cluster: link handshake refused", "remote", raw.RemoteAddr().String(), "err", err)
		return
	}
	// Read the peer's hello first to learn its name, then answer.
	f, _, err := readFrame(conn, nil)
	if err != nil || f.kind != kindHello || f.version != protocolVersion {
		n.log.Warn("cluster: link without a valid hello", "remote", raw.RemoteAddr().String())
		return
	}
	// The peer proved it holds the cluster secret; it must also be a live
	// member, so that its sessions are only listened to between memberlist's
	// join and leave of it. Gossip may be a little behind the peer's Join:
	// give it a moment.
	if f.name == n.name || !n.awaitMember(f.name, handshakeTimeout/4) {
		n.log.Debug("cluster: link from a node that is not a live member", "peer", f.name)
		return
	}
	mine := frame{kind: kindHello, name: n.name, instance: n.instance, version: protocolVersion}
	if _, err := conn.Write(mine.encode()); err != nil {
		return
	}
	conn.SetDeadline(time.Time{})
	l := &inLink{peer: f.name, instance: f.instance, conn: conn, raw: raw, gen: n.dir.generation(f.name)}
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return
	}
	n.in[l] = struct{}{}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.in, l)
		n.mu.Unlock()
	}()
	n.readLink(l)
}

func (n *Node) readLink(l *inLink) {
	r := bufio.NewReader(l.conn)
	w := bufio.NewWriter(l.conn)
	var buf []byte
	// handled counts the stanzas handed to the hooks, acked what the peer
	// was told of. An ack goes out once all that arrived is read, or every
	// ackEvery stanzas in a long burst.
	var handled, acked uint64
	ack := func() error {
		acked = handled
		l.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write((&frame{kind: kindAck, acked: handled}).encode()); err != nil {
			return err
		}
		return w.Flush()
	}
	for {
		var f frame
		var err error
		f, buf, err = readFrame(r, buf)
		if err != nil {
			if n.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				n.log.Debug("cluster: link closed", "peer", l.peer, "err", err)
			}
			return
		}
		switch f.kind {
		case kindStanza, kindStanzaSole:
			if f.kind == kindStanzaSole {
				n.hooks.sole(l.peer, f.payload)
			} else if n.hooks.Stanza != nil {
				n.hooks.Stanza(l.peer, f.payload)
			}
			handled++
			if r.Buffered() == 0 || handled-acked >= ackEvery {
				if err := ack(); err != nil {
					return
				}
			}
		case kindBye:
			// Everything the peer sent before it was handled above.
			if handled != acked {
				if err := ack(); err != nil {
					return
				}
			}
			l.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := w.Write((&frame{kind: kindBye}).encode()); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return
			}
		case kindReplayReq:
			res := n.replay.check(f.host, f.node, f.tokenID, time.Unix(0, f.expiry), time.Now())
			resp := frame{kind: kindReplayResp, id: f.id, result: res}
			l.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := w.Write(resp.encode()); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return
			}
		case kindFAST:
			if n.hooks.FAST != nil {
				n.hooks.FAST(l.peer, f.fast)
			}
		case kindRevoke:
			n.revs.remember(f.revoke)
			if n.hooks.Revoked != nil {
				n.hooks.Revoked(l.peer, f.revoke)
			}
		case kindSessions, kindSession, kindAvailability:
			bound, err := n.dir.apply(l, f)
			if errors.Is(err, errStaleLink) {
				n.log.Debug("cluster: closing a link from before its peer flapped", "peer", l.peer)
				return
			} else if err != nil {
				n.log.Warn("cluster: session directory out of step with a peer; re-syncing", "peer", l.peer, "err", err)
				return
			}
			n.conflicts(l.peer, bound)
		default:
			n.log.Warn("cluster: unexpected frame on an incoming link", "peer", l.peer, "kind", f.kind)
			return
		}
	}
}
