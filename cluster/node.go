package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Hooks are what the server plugs into a node.
type Hooks struct {
	// RAMKeys are the RAM keys this node's configuration wants. A node that
	// starts a cluster generates them; a joining node adopts the cluster's
	// and generates only the ones the cluster lacks.
	RAMKeys []RAMKeySpec
	// Stanza receives the stanzas other nodes route here, with the sending
	// node's name. It runs on the link's reader: it must hand the stanza off
	// and return, not block. nil drops them.
	Stanza func(from string, stanza []byte)
	// SoleStanza receives the stanzas other nodes route here with
	// RouteSole: this node is the only one the sender gave it to, so when it
	// reaches no one here the server answers as a single server would (a
	// message for a bare JID whose resources all went unavailable while it
	// travelled: service-unavailable). Like Stanza, it must not block. nil
	// hands them to Stanza.
	SoleStanza func(from string, stanza []byte)
	// KeyReplaced is told when a RAM key this node already used lost a merge
	// to an older one (two clusters that met), or was rotated by another
	// node (RAMKeyVersions then has the replaced key too); the server
	// rebuilds that host's verifier. It must not block.
	KeyReplaced func(host, name string)
	// Conflict is told when a full JID bound on this node was bound anew on
	// another node: the server closes the local session with a conflict
	// stream error and calls Unbind, as it does when a client binds a
	// resource in use on the same node. It must not block.
	Conflict func(full string)
	// KeyMismatch is told, once per difference, when a peer's file or env
	// key differs from this node's (see AnnounceKey). The node logs it
	// already; the hook is for metrics. It must not block.
	KeyMismatch func(peer, host, name string)
	// Undelivered gets back a stanza that Route or RouteSole accepted for
	// the node named to and that will never reach that node's hooks: still
	// queued when the node left or this one stopped, or sent on a link that
	// died before the node acked it (a crash). sole says it went by
	// RouteSole. The server answers for it as for a recipient it cannot
	// reach: an error to the sender where one applies, when no other node
	// was given the stanza (sole, or to a full JID). Rarely, a link that dies
	// right after its peer handled a stanza loses the ack, and the stanza
	// comes back although it was delivered. It runs on cluster goroutines
	// and must not block. nil drops them; they are counted in
	// Stats.StanzasDropped either way.
	Undelivered func(to string, stanza []byte, sole bool)
	// SessionsLost is told of the sessions a node still had bound when
	// memberlist declared it gone (a crash: a node that stops unbinds its
	// sessions first), those no other node has bound, sorted by JID. Other
	// nodes route nothing to them any more; the server sends the
	// unavailable presence their end would have sent for those that were
	// available. It runs inside memberlist's event callback: it must hand
	// the work off and return.
	SessionsLost func(node string, lost []Binding)
	// Revoked is told of a revocation or a kick another node made (see
	// Node.Revoke), with that node's name. It runs on the link's reader: it
	// must hand the work off and return.
	Revoked func(from string, r Revocation)
	// FAST is told of a FAST token event a peer shared (ShareFAST).
	FAST func(from string, event []byte)
}

// sole hands a sole stanza to its hook, or to Stanza when there is none.
func (h *Hooks) sole(from string, stanza []byte) {
	switch {
	case h.SoleStanza != nil:
		h.SoleStanza(from, stanza)
	case h.Stanza != nil:
		h.Stanza(from, stanza)
	}
}

// Errors a caller may want to tell apart.
var (
	ErrUnknownNode = errors.New("cluster: no such live node")
	ErrReplayFull  = errors.New("cluster: replay cache full")
	ErrStopped     = errors.New("cluster: node stopped")
)

// Node is this process's member of the cluster.
type Node struct {
	opts     Options
	log      *slog.Logger
	hooks    Hooks
	name     string
	instance [16]byte

	keys   *keySet
	fps    *fingerprints
	replay *replayStore
	dir    *directory
	ml     *memberlist.Memberlist

	ready     chan struct{}
	readyOnce sync.Once

	ln        net.Listener
	linkAddr  string // what NodeMeta advertises
	serverTLS *tls.Config
	clientTLS *tls.Config

	memMu   sync.RWMutex
	members map[string]member // live peers, kept by the event delegate
	self    member

	mu      sync.Mutex
	out     map[string]*outLink
	in      map[*inLink]struct{}
	dialing map[string]chan struct{}
	failing map[string]bool // peers whose last dial failed (warned once)
	// outboxes queue the stanzas routed to each peer.
	outboxes map[string]*outbox
	dropped  atomic.Uint64 // stanzas refused or lost in an outbox
	// replayDown and replayFallbacks: owners that did not answer a replay
	// check, and how often a fallback stood in for one.
	replayDown      downOwners
	replayFallbacks atomic.Uint64
	stopped         bool

	// sessMu orders session changes with the links they are sent on: a
	// snapshot and every later change reach each peer in version order.
	sessMu      sync.Mutex
	sessVersion uint64
	local       map[string]entry // full JID -> bound at (unix ns), availability

	// revs are the revocations in force, sent again on every new link
	// (Node.Revoke).
	revs revocationLog

	wake   chan struct{} // nudges the link keeper
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   sync.Once
}

// Start binds the gossip and link addresses, loads the secret and returns.
// Joining the seeds (or starting a cluster alone) goes on in the background;
// Ready is closed when it is done. The node lives until Stop; ctx bounds
// Start only. opts is given its defaults and validated here.
func Start(ctx context.Context, opts Options, logger *slog.Logger, hooks Hooks) (*Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	for _, k := range hooks.RAMKeys {
		if k.Size <= 0 {
			return nil, fmt.Errorf("%s: RAM key %q of host %q has size %d", Section, k.Name, k.Host, k.Size)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	secret, warning, err := LoadSecret(opts.SecretFile)
	if err != nil {
		return nil, err
	}
	if warning != "" {
		logger.Warn(warning)
	}
	sec, err := derive(secret)
	if err != nil {
		return nil, err
	}
	n := &Node{
		opts:     opts,
		log:      logger.With("node", opts.NodeName),
		hooks:    hooks,
		name:     opts.NodeName,
		keys:     newKeySet(),
		fps:      newFingerprints(sec.fingerprint),
		replay:   newReplayStore(opts.ReplayMax),
		dir:      newDirectory(),
		ready:    make(chan struct{}),
		members:  make(map[string]member),
		out:      make(map[string]*outLink),
		in:       make(map[*inLink]struct{}),
		dialing:  make(map[string]chan struct{}),
		failing:  make(map[string]bool),
		outboxes: make(map[string]*outbox),
		local:    make(map[string]entry),
		wake:     make(chan struct{}, 1),
	}
	if _, err := rand.Read(n.instance[:]); err != nil {
		return nil, fmt.Errorf("%s: %v", Section, err)
	}
	if n.serverTLS, n.clientTLS, err = linkTLS(sec.linkKey); err != nil {
		return nil, err
	}
	n.ln, err = net.Listen("tcp", opts.LinkListen)
	if err != nil {
		return nil, fmt.Errorf("%s: link_listen %q: %v", Section, opts.LinkListen, err)
	}
	n.linkAddr = linkAdvertise(opts, n.ln.Addr())

	conf, err := n.memberlistConfig(sec.gossip)
	if err != nil {
		n.ln.Close()
		return nil, err
	}
	// memberlist calls the delegate from inside Create: the node must be
	// whole before it.
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.ml, err = memberlist.Create(conf)
	if err != nil {
		n.cancel()
		n.ln.Close()
		return nil, fmt.Errorf("%s: bind %q: %v", Section, opts.Bind, err)
	}
	n.wg.Add(3)
	go n.acceptLinks()
	go n.keepLinks()
	go n.joinOrBootstrap()
	return n, nil
}

// linkAdvertise is the NodeMeta peers dial: link_advertise, or ":port" to
// mean "my gossip address, this port".
func linkAdvertise(opts Options, bound net.Addr) string {
	if opts.LinkAdvertise != "" {
		return opts.LinkAdvertise
	}
	return ":" + strconv.Itoa(bound.(*net.TCPAddr).Port)
}

func (n *Node) memberlistConfig(gossipKey []byte) (*memberlist.Config, error) {
	conf := memberlist.DefaultLANConfig()
	conf.Name = n.name
	host, port, _ := net.SplitHostPort(n.opts.Bind)
	if host == "" {
		host = "0.0.0.0"
	}
	conf.BindAddr = host
	conf.BindPort, _ = strconv.Atoi(port)
	conf.AdvertisePort = conf.BindPort
	if n.opts.Advertise != "" {
		ah, ap, _ := net.SplitHostPort(n.opts.Advertise)
		conf.AdvertiseAddr = ah
		conf.AdvertisePort, _ = strconv.Atoi(ap)
	}
	conf.SecretKey = gossipKey
	conf.GossipVerifyIncoming = true
	conf.GossipVerifyOutgoing = true
	// The label keeps another memberlist cluster on the same network (or a
	// future incompatible xtokend) from mixing with this one.
	conf.Label = "github.com/xtokend/xtokend/1"
	// A node that crashed may come back under its name from a new address.
	conf.DeadNodeReclaimTime = 30 * time.Second
	d := &delegate{n: n}
	conf.Delegate = d
	conf.Events = d
	conf.Logger = log.New(&memberlistLog{log: n.log}, "", 0)
	if n.opts.tune != nil {
		n.opts.tune(conf)
	}
	return conf, nil
}

// Name is this node's name.
func (n *Node) Name() string { return n.name }

// Ready is closed once the node has joined a cluster, and holds the
// session snapshot of every peer (or waited sessionsWait for it), or
// started one alone.
// Verifying and minting tokens with RAM keys must wait for it.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// WaitReady blocks until Ready is closed, ctx ends or the node stops.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.ctx.Done():
		return ErrStopped
	}
}

// RAMKey returns a copy of the cluster's RAM key named name of host; false
// before Ready or when the cluster has no such key.
func (n *Node) RAMKey(host, name string) ([]byte, bool) {
	select {
	case <-n.ready:
	default:
		return nil, false
	}
	if n.ctx.Err() != nil {
		return nil, false
	}
	return n.keys.get(host, name)
}

// Members returns the names of the live members, this node included.
func (n *Node) Members() []string {
	n.memMu.RLock()
	defer n.memMu.RUnlock()
	names := []string{n.name}
	for name := range n.members {
		if name != n.name {
			names = append(names, name)
		}
	}
	return names
}

// member is what this node keeps of a live peer. memberlist hands out
// pointers into its own state, which it goes on changing under its lock; the
// event delegate copies what is needed while that lock is held.
type member struct {
	addr net.IP
	port uint16
	meta string // the link address the peer advertises
}

// gossipAddr is the member's gossip address, host:port.
func (m member) gossipAddr() string {
	return net.JoinHostPort(m.addr.String(), strconv.Itoa(int(m.port)))
}

// GossipAddr is the address this node gossips on, as peers reach it: what
// other nodes' join lists name.
func (n *Node) GossipAddr() string {
	n.memMu.RLock()
	defer n.memMu.RUnlock()
	return n.self.gossipAddr()
}

// member returns a live member by name.
func (n *Node) member(name string) (member, bool) {
	n.memMu.RLock()
	defer n.memMu.RUnlock()
	m, ok := n.members[name]
	return m, ok
}

// Stop hands the stanzas already routed to their peers (waiting up to a
// second for each peer to confirm it handled them), leaves the cluster
// (telling the others, so they drop this node's sessions at once rather
// than after failure detection), closes every link
// and wipes the RAM keys from memory: RAMKey answers false afterwards. ctx
// bounds the leave.
func (n *Node) Stop(ctx context.Context) error { return n.shutdown(ctx, true) }

// shutdown is Stop; tests pass leave = false to play a crash, which the
// others notice only by failure detection.
func (n *Node) shutdown(ctx context.Context, leave bool) error {
	var err error
	n.stop.Do(func() {
		// What the server routed last (the unavailable presence of the
		// sessions it just closed) goes out before the links close. A
		// crash says nothing.
		if leave {
			n.flushOutboxes(ctx)
		}
		// Stop making links and answering first, so that nothing re-links
		// to a peer that has already heard this node leave.
		n.cancel()
		n.mu.Lock()
		n.stopped = true
		n.mu.Unlock()
		timeout := 2 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		if !leave {
			// nothing: the others find out by probing
		} else if e := n.ml.Leave(timeout); e != nil {
			err = fmt.Errorf("%s: leave: %v", Section, e)
		}
		n.mu.Lock()
		links := make([]*outLink, 0, len(n.out))
		for _, l := range n.out {
			links = append(links, l)
		}
		ins := make([]*inLink, 0, len(n.in))
		for l := range n.in {
			ins = append(ins, l)
		}
		n.mu.Unlock()
		n.ln.Close()
		for _, l := range links {
			l.close()
		}
		for _, l := range ins {
			l.raw.Close()
		}
		if e := n.ml.Shutdown(); e != nil && err == nil {
			err = fmt.Errorf("%s: shutdown: %v", Section, e)
		}
		n.wg.Wait()
		n.keys.wipe()
	})
	return err
}

// nudge asks the link keeper to look at the membership now.
func (n *Node) nudge() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// sleep waits d or until the node stops; false when it stopped.
func (n *Node) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}
