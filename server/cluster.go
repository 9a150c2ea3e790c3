package server

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/sasl"
)

// The server's side of a cluster ([cluster] in the configuration; see
// package cluster for what the nodes share and how).
//
//   - Start: the node starts before the keystores open, and the server
//     waits until it has joined the cluster or started one alone (at most
//     join_timeout), so that RAM keys are the cluster's before any token is
//     verified or minted.
//   - Keys: RAM keys come from the node (keystore.NewWithRAM); file and env
//     keys stay the node's own and their fingerprints are announced, at start
//     and after each reload, so a node whose copy differs logs an error. A RAM
//     key replaced by a cluster merge (Hooks.KeyReplaced) rebuilds that
//     host's verifier.
//   - Replay: verifiers check tokens with the node's CheckAndRemember
//     (sasl.NewSharedVerifier) instead of the local cache.
//   - Sessions: every bind and unbind is told to the node, and so is the
//     availability and priority each broadcast presence gives a session. A
//     stanza for a full JID not bound here goes to the node that has it. A
//     message for a bare JID goes to the nodes with an available resource
//     of non-negative priority (RFC 6121 section 8.5.2.1), and when there is
//     none, here or there, the sender gets service-unavailable as on a
//     single server; when one node alone gets such a message, it is sent
//     as a sole stanza, and that node answers with service-unavailable if
//     its resources went unavailable while it travelled. Presence for a
//     bare JID goes to every node with a resource of it. A node that is gone takes its sessions with it:
//     stanzas for them get service-unavailable.
//   - Presence of the user's other resources: a session's first broadcast
//     presence sends a presence probe, from its full JID, to each available
//     resource of the user on other nodes; their node answers with that
//     resource's last broadcast presence. Such probes exist only between
//     nodes: one a client sends is dropped (routePresence), and one that
//     arrives from a node is answered, never delivered.
//   - Sending: Route queues without waiting (a bounded queue per peer), so a
//     slow node never stalls a session's read loop. A stanza its queue
//     refuses is answered with resource-constraint where a single server
//     would answer an unreachable recipient with an error.
//   - Shutdown: the node leaves after the sessions got their
//     system-shutdown stream error.

// clusterState is a clustered server's node and what orders its bindings.
type clusterState struct {
	srv  *Server
	node atomic.Pointer[cluster.Node] // set once Start returns; hooks may run before

	// bindMu orders the registry and the node's view of local sessions, so
	// that a session replaced on this node is never unbound from the
	// cluster after its successor was bound.
	bindMu sync.Mutex
}

// clusterLeaveTimeout bounds the node's leave at shutdown.
const clusterLeaveTimeout = 5 * time.Second

// ClusterNode is the server's cluster node, nil when the configuration has
// no [cluster] section (or before Init).
func (s *Server) ClusterNode() *cluster.Node {
	if s.clus == nil {
		return nil
	}
	return s.clus.node.Load()
}

// startCluster starts the node when [cluster] is configured and waits until
// it is ready. It runs in build, before the keystores open.
func (s *Server) startCluster() error {
	opts, ok := s.cfg.ClusterOptions()
	if !ok {
		return nil
	}
	var ram []cluster.RAMKeySpec
	for _, h := range s.cfg.General.Hosts {
		hs, _ := s.cfg.Host(h)
		for _, k := range hs.Keystore.Keys {
			if k.Type == keystore.TypeRAM {
				ram = append(ram, cluster.RAMKeySpec{Host: h, Name: k.Name, Size: hs.Keystore.RAMKeySize})
			}
		}
	}
	cs := &clusterState{srv: s}
	log := s.logger()
	node, err := cluster.Start(s.ctx, opts, log, cluster.Hooks{
		RAMKeys:     ram,
		Stanza:      func(from string, b []byte) { cs.receive(from, b, false) },
		SoleStanza:  func(from string, b []byte) { cs.receive(from, b, true) },
		KeyReplaced: cs.keyReplaced,
		Conflict:    cs.conflict,
	})
	if err != nil {
		return err
	}
	cs.node.Store(node)
	s.clus = cs
	log.Info("cluster: node started, joining", "node", node.Name(), "gossip", node.GossipAddr(), "join", opts.Join)
	if err := node.WaitReady(s.ctx); err != nil {
		return fmt.Errorf("server: cluster: %w", err)
	}
	return nil
}

// stopCluster leaves the cluster; Shutdown calls it once the sessions got
// their stream errors, and a failed build calls it so no node lingers.
func (s *Server) stopCluster() {
	node := s.ClusterNode()
	if node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterLeaveTimeout)
	defer cancel()
	if err := node.Stop(ctx); err != nil {
		s.logger().Warn("cluster: leaving", "err", err)
	}
}

// openKeystores opens every host's keystore: with the cluster's RAM keys in
// a cluster, else as OpenKeystoresWithWarnings does.
func (s *Server) openKeystores() (map[string]*keystore.Store, []keystore.Warning, error) {
	node := s.ClusterNode()
	if node == nil {
		return s.cfg.OpenKeystoresWithWarnings()
	}
	return s.cfg.openKeystores(func(host string) keystore.RAMSource {
		return func(name string, _ int) ([]byte, error) {
			b, ok := node.RAMKey(host, name)
			if !ok {
				return nil, errors.New("the cluster has no such RAM key (the node is not ready or stopped)")
			}
			return b, nil
		}
	})
}

// newVerifier builds a host's verifier: with the cluster's replay check in a
// cluster, the shared local cache otherwise.
func (s *Server) newVerifier(host string, store *keystore.Store, opts sasl.Options) (*sasl.Verifier, error) {
	if node := s.ClusterNode(); node != nil {
		return sasl.NewSharedVerifier(host, store, opts, node)
	}
	return sasl.NewVerifier(host, store, opts, s.replay)
}

// announceKeys tells the cluster the fingerprints of a host's file and env
// keys (never the keys), so that a node whose copy differs from a peer's
// logs an error.
func (s *Server) announceKeys(host string, store *keystore.Store) {
	node := s.ClusterNode()
	if node == nil {
		return
	}
	for _, info := range store.List() {
		if info.Type != keystore.TypeFile && info.Type != keystore.TypeEnv {
			continue
		}
		k, err := store.Key(info.Name)
		if err != nil {
			continue
		}
		node.AnnounceKey(host, info.Name, k)
		clear(k)
	}
}

// clusterStarted runs at the end of build: the fingerprints of the keys
// opened, and the cluster's gauges.
func (s *Server) clusterStarted() {
	node := s.ClusterNode()
	if node == nil {
		return
	}
	for _, h := range s.hosts {
		s.announceKeys(h.name, h.keys.Load().store)
	}
	if m := s.ops.metrics; m != nil {
		gauge := func(name, help string, f func(cluster.Stats) int) {
			m.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
				func() float64 { return float64(f(node.Stats())) }))
		}
		gauge("xtokend_cluster_members", "Live cluster members, this node included.", func(st cluster.Stats) int { return st.Members })
		gauge("xtokend_cluster_links", "Links up from this node to its peers.", func(st cluster.Stats) int { return st.Links })
		gauge("xtokend_cluster_remote_sessions", "Sessions bound on other nodes, as this node knows them.", func(st cluster.Stats) int { return st.RemoteSessions })
		gauge("xtokend_cluster_replay_tokens", "Token ids this node holds as a replay owner.", func(st cluster.Stats) int { return st.ReplayHeld })
		m.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "xtokend_cluster_stanzas_dropped_total",
			Help: "Stanzas for another node dropped before reaching its link: refused by a full queue (the sender got resource-constraint where an error applies) or waiting when the node left.",
		}, func() float64 { return float64(node.Stats().StanzasDropped) }))
		gauge("xtokend_cluster_ready", "1 once the node joined the cluster or started it alone.", func(st cluster.Stats) int {
			if st.Ready {
				return 1
			}
			return 0
		})
	}
}

// keyReplaced is Hooks.KeyReplaced: a RAM key lost a merge to an older one
// (two clusters met). The host's store takes the cluster's key and its
// verifier is rebuilt; tokens minted with the old key stop verifying.
func (cs *clusterState) keyReplaced(host, name string) {
	go func() { // the hook must not block; init may still be running
		s := cs.srv
		if s.init() != nil {
			return
		}
		node := cs.node.Load()
		h := s.lookupHost(host)
		if node == nil || h == nil {
			return
		}
		s.ops.reloadMu.Lock() // not at the same time as a Reload's swap
		defer s.ops.reloadMu.Unlock()
		b, ok := node.RAMKey(host, name)
		if !ok {
			return
		}
		defer clear(b)
		store := h.keys.Load().store
		if err := store.ReplaceRAM(name, b); err != nil {
			s.logger().Error("cluster: taking the cluster's RAM key", "host", host, "key", name, "err", err)
			return
		}
		if err := s.ReplaceKeys(host, store); err != nil {
			s.logger().Error("cluster: rebuilding the verifier", "host", host, "err", err)
			return
		}
		s.logger().Warn("cluster: this host's RAM key was replaced by the cluster's older one; tokens minted with the old key no longer verify", "host", host, "key", name)
	}()
}

// conflict is Hooks.Conflict: the full JID was bound anew on another node.
// The local session ends as it would for a bind on this node.
func (cs *clusterState) conflict(full string) {
	if sess := cs.srv.reg.lookup(full); sess != nil {
		sess.kill(condConflict, "replaced by a new session on another node")
	}
}

// bindSession registers sess and tells the cluster; it returns the local
// session it replaces, if any.
func (s *Server) bindSession(sess *session) *session {
	cs := s.clus
	if cs == nil {
		return s.reg.bind(sess)
	}
	cs.bindMu.Lock()
	defer cs.bindMu.Unlock()
	old := s.reg.bind(sess)
	node := cs.node.Load()
	if old != nil {
		node.Unbind(sess.full) // so the new bind carries a new time
	}
	node.Bind(sess.full)
	return old
}

// unbindSession removes sess, and tells the cluster when no local session
// of its full JID is left.
func (s *Server) unbindSession(sess *session) {
	cs := s.clus
	if cs == nil {
		s.reg.unbind(sess)
		return
	}
	cs.bindMu.Lock()
	defer cs.bindMu.Unlock()
	s.reg.unbind(sess)
	if s.reg.lookup(sess.full) == nil {
		cs.node.Load().Unbind(sess.full)
	}
}

// routeRemote sends st, addressed to the full JID to, to the node that has
// it bound. It reports false when no other node has it (or the node is gone
// since), and the caller answers as for a user who is offline. A node whose
// queue is full is a recipient out of reach for now: the sender gets
// resource-constraint (wait), except for presence, which is never answered
// with an error.
func (s *session) routeRemote(st *xmlStanza, from, to string) (bool, error) {
	cs := s.srv.clus
	if cs == nil {
		return false, nil
	}
	node := cs.node.Load()
	where, ok := node.Lookup(to)
	if !ok || where == node.Name() {
		return false, nil
	}
	b, err := st.encode(from, to)
	if err != nil {
		return false, &clientError{cond: condBadFormat, text: "stanza cannot be re-encoded"}
	}
	switch err := cs.send(where, b); {
	case err == nil:
		return true, nil
	case errors.Is(err, cluster.ErrQueueFull):
		if st.name != "presence" {
			s.replyError(st, to, stanza.Wait, stanza.ResourceConstraint, "the recipient's cluster node is not keeping up")
		}
		return true, nil
	}
	return false, nil
}

// remoteNodes are the other nodes where bare has a resource bound; nil
// without a cluster. Presence for a bare JID goes to all of them (each
// delivers to its available resources of any priority).
func (s *session) remoteNodes(bare string) []string {
	return s.remoteWhere(bare, func(cluster.Binding) bool { return true })
}

// remoteAvailable are the other nodes where bare has an available resource
// of at least minPriority, as their nodes last published it: where a
// message for the bare JID can be delivered.
func (s *session) remoteAvailable(bare string, minPriority int32) []string {
	return s.remoteWhere(bare, func(b cluster.Binding) bool { return b.Available && int32(b.Priority) >= minPriority })
}

func (s *session) remoteWhere(bare string, keep func(cluster.Binding) bool) []string {
	cs := s.srv.clus
	if cs == nil {
		return nil
	}
	node := cs.node.Load()
	var out []string
	for _, b := range node.Bindings(bare) {
		if b.Node != node.Name() && keep(b) && !slices.Contains(out, b.Node) {
			out = append(out, b.Node)
		}
	}
	return out
}

// forward sends st, stamped from and to, to each of nodes; each delivers it
// to its own resources of the bare JID to (receive). It says how many nodes
// took it, and whether a full queue refused it.
func (s *session) forward(st *xmlStanza, from, to string, nodes []string) (sent int, full bool, err error) {
	return s.forwardAs(st, from, to, nodes, false)
}

// forwardAs is forward; sole says the one node in nodes is the only one
// delivering st anywhere, so that it answers for st when it reaches no one
// there (cluster.Node.RouteSole).
func (s *session) forwardAs(st *xmlStanza, from, to string, nodes []string, sole bool) (sent int, full bool, err error) {
	if len(nodes) == 0 {
		return 0, false, nil
	}
	b, err := st.encode(from, to)
	if err != nil {
		return 0, false, &clientError{cond: condBadFormat, text: "stanza cannot be re-encoded"}
	}
	for _, n := range nodes {
		switch err := s.srv.clus.route(n, b, sole); {
		case err == nil:
			sent++
		case errors.Is(err, cluster.ErrQueueFull):
			full = true
		}
	}
	return sent, full, nil
}

// forwardBytes sends an already encoded stanza to the other nodes where
// bare has resources (presence the server makes itself).
func (s *session) forwardBytes(bare string, b []byte) {
	for _, n := range s.remoteNodes(bare) {
		s.srv.clus.send(n, b)
	}
}

// send queues b for node. It never waits: a slow node refuses with
// cluster.ErrQueueFull (the node logs that, once per congestion), a node
// gone since the lookup with cluster.ErrUnknownNode.
func (cs *clusterState) send(node string, b []byte) error { return cs.route(node, b, false) }

// route is send, with RouteSole when sole.
func (cs *clusterState) route(node string, b []byte, sole bool) error {
	n := cs.node.Load()
	if n == nil {
		return cluster.ErrStopped
	}
	var err error
	if sole {
		err = n.RouteSole(cs.srv.ctx, node, b)
	} else {
		err = n.Route(cs.srv.ctx, node, b)
	}
	if err != nil && !errors.Is(err, cluster.ErrQueueFull) {
		cs.srv.logger().Debug("cluster: routing a stanza failed", "peer", node, "err", err)
	}
	return err
}

// publishAvailability tells the cluster the availability and priority s
// took with its broadcast presence, unless s was replaced meanwhile (its
// full JID is now another session's).
func (s *session) publishAvailability(available bool, priority int32) {
	cs := s.srv.clus
	if cs == nil {
		return
	}
	cs.bindMu.Lock()
	defer cs.bindMu.Unlock()
	if s.srv.reg.lookup(s.full) != s {
		return
	}
	cs.node.Load().SetAvailability(s.full, available, int8(priority))
}

// probeRemote asks the node of each available resource of the user on
// another node for its presence, on behalf of s, whose first broadcast
// presence this is: the cluster's part of RFC 6121 section 4.2.2's "the
// user's server sends the presence of the user's other available
// resources". Each node answers in receive (answerProbe).
func (s *session) probeRemote() {
	cs := s.srv.clus
	if cs == nil {
		return
	}
	node := cs.node.Load()
	for _, b := range node.Bindings(s.bare) {
		if b.Node == node.Name() || !b.Available || b.JID == s.full {
			continue
		}
		var buf bytes.Buffer
		openStanza(&buf, "presence", "probe", "", s.full, b.JID)
		buf.WriteString("</presence>")
		cs.send(b.Node, buf.Bytes())
	}
}

// receive is Hooks.Stanza: a stanza another node routed here, as
// session.deliver encoded it (to and from stamped). It runs on the link's
// reader, so it only queues: to a full JID, that session; to a bare JID,
// its available resources here. A full JID no longer bound here gets an
// error stanza routed back (never in answer to an error).
//
// sole says the sending node gave the stanza to this node only (RouteSole):
// a message for a bare JID that finds no available resource of
// non-negative priority here (they went unavailable while it travelled)
// is answered with service-unavailable, as the sender's node would have
// answered had it known; a headline is dropped, as there.
func (cs *clusterState) receive(fromNode string, b []byte, sole bool) {
	s := cs.srv
	h, err := stanzaHead(b)
	if err != nil {
		s.logger().Warn("cluster: dropping a routed stanza that does not parse", "peer", fromNode, "err", err)
		return
	}
	to, err := jid.Parse(h.to)
	if err != nil || to.Localpart() == "" {
		s.logger().Warn("cluster: dropping a routed stanza without a user's JID in 'to'", "peer", fromNode)
		return
	}
	if h.name == "presence" && h.typ == "probe" {
		// Only nodes send probes across (probeRemote): answered, never
		// delivered to a client.
		cs.answerProbe(fromNode, h)
		return
	}
	if to.Resourcepart() != "" {
		if t := s.reg.lookup(h.to); t != nil {
			t.enqueue(b)
			return
		}
		if h.name == "presence" || h.typ == "error" || (h.name == "iq" && h.typ == "result") {
			return
		}
		reply := stanzaError(h.name, h.id, h.to, h.from, stanza.Cancel, stanza.ServiceUnavailable, "")
		cs.send(fromNode, reply) // never waits: fine on the link's reader
		return
	}
	minPriority := int32(0) // messages: RFC 6121 section 8.5.2.1
	if h.name == "presence" {
		minPriority = -128
	} else if h.name != "message" {
		return // an IQ to a bare JID is answered by the sender's node
	}
	delivered := 0
	for _, t := range s.reg.resources(to.String()) {
		if t.available.Load() && t.priority.Load() >= minPriority {
			t.enqueue(b)
			delivered++
		}
	}
	if sole && delivered == 0 && h.name == "message" && (h.typ == "" || h.typ == "normal" || h.typ == "chat") {
		cs.send(fromNode, stanzaError(h.name, h.id, h.to, h.from, stanza.Cancel, stanza.ServiceUnavailable, ""))
	}
}

// answerProbe answers a probe another node sent for one of its sessions
// (probeRemote): the probed session's last broadcast presence, addressed to
// the prober, when it is bound here and available. Nothing otherwise: the
// directory the prober read was a moment behind, and the presence that
// made the session unavailable is on its way to the prober already.
func (cs *clusterState) answerProbe(fromNode string, h routedHead) {
	t := cs.srv.reg.lookup(h.to)
	if t == nil || !t.available.Load() || h.from == "" {
		return
	}
	p := t.presence.Load()
	if p == nil {
		return
	}
	cs.send(fromNode, presenceTo(*p, h.from))
}

// presenceTo returns a stored broadcast presence (encoded without 'to') with
// 'to' set.
func presenceTo(b []byte, to string) []byte {
	const open = "<presence"
	if !bytes.HasPrefix(b, []byte(open)) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + len(to) + 8)
	out.WriteString(open)
	writeAttr(&out, "to", to)
	out.Write(b[len(open):])
	return out.Bytes()
}

// stanzaHead reads the start tag of an encoded stanza.
func stanzaHead(b []byte) (routedHead, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.RawToken()
		if err != nil {
			return routedHead{}, err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch start.Name.Local {
		case "message", "presence", "iq":
		default:
			return routedHead{}, fmt.Errorf("not a stanza: <%s>", truncateName(start.Name.Local))
		}
		return headOf(start), nil
	}
}

func truncateName(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// forwardTo sends an encoded stanza to the node where the full JID to is
// bound, when that is another node of the cluster.
func (s *session) forwardTo(to string, b []byte) {
	cs := s.srv.clus
	if cs == nil {
		return
	}
	node := cs.node.Load()
	if where, ok := node.Lookup(to); ok && where != node.Name() {
		cs.send(where, b)
	}
}

// forwardOffline sends the unavailable presence of a session that ended to
// the user's resources on other nodes.
func (s *session) forwardOffline(b []byte) {
	if s.srv.clus == nil {
		return
	}
	if nodes := s.remoteNodes(s.bare); len(nodes) > 0 {
		b = addressed(b, s.bare)
		for _, n := range nodes {
			s.srv.clus.send(n, b)
		}
	}
}

// addressed returns a presence the server made without 'to' (openStanza's
// "<presence xmlns='jabber:client' ...>") with 'to' set, so that the nodes
// it is forwarded to know whose resources it is for.
func addressed(b []byte, to string) []byte {
	const open = "<presence xmlns='jabber:client'"
	if !bytes.HasPrefix(b, []byte(open)) {
		return b
	}
	var out bytes.Buffer
	out.WriteString(open)
	writeAttr(&out, "to", to)
	out.Write(b[len(open):])
	return out.Bytes()
}
