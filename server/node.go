package server

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/keystore"
)

// The server's side of a cluster ([cluster] in the configuration; see
// package cluster for what the nodes share and how).
//
//   - Start: New starts the node before the keystores open and waits, under
//     its ctx, until the node has joined the cluster or started one alone
//     (at most join_timeout), so that RAM keys are the cluster's before any
//     token is verified or minted.
//   - Keys: RAM keys come from the node (Server.keySource); file and env
//     keys stay the node's own and their fingerprints are announced, at
//     start and after each reload, so a node whose copy differs logs an
//     error. A RAM key replaced by a cluster merge (Hooks.KeyReplaced)
//     rebuilds that host's verifier.
//   - Replay: verifiers check tokens with the node's CheckAndRemember
//     (sasl.NewSharedVerifier) instead of the local cache.
//   - Sessions: the registry tells the router (clusterRouter) of every bind
//     and unbind, and of the availability and priority each broadcast
//     presence gives a session; routing to other nodes goes through it.
//   - Losses: a stanza that never reached the node it was routed to
//     (Hooks.Undelivered) is answered to its sender as one for a recipient
//     no node has; the sessions of a crashed node (Hooks.SessionsLost) get
//     the unavailable presence their end would have sent.
//   - Shutdown: the node leaves after the sessions got their
//     system-shutdown stream error.

// clusterLeaveTimeout bounds the node's leave at shutdown.
const clusterLeaveTimeout = 5 * time.Second

// ClusterNode is the server's cluster node, nil when the configuration has
// no [cluster] section.
func (s *Server) ClusterNode() *cluster.Node { return s.node }

// startCluster starts the node when [cluster] is configured and waits, at
// most until ctx ends, until it is ready. It runs in New, before the
// keystores open.
func (s *Server) startCluster(ctx context.Context) error {
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
	// The router exists before the node: the node's hooks may run before
	// Start returns, and they route through it (it has no node until then).
	r := &clusterRouter{}
	s.router = r
	log := s.logger()
	node, err := cluster.Start(s.ctx, opts, log, cluster.Hooks{
		RAMKeys:      ram,
		Stanza:       func(from string, b []byte) { s.receive(from, b, false) },
		SoleStanza:   func(from string, b []byte) { s.receive(from, b, true) },
		KeyReplaced:  s.keyReplaced,
		Conflict:     s.conflict,
		Undelivered:  s.undelivered,
		SessionsLost: s.sessionsLost,
		Revoked:      s.revokedByPeer,
		FAST:         s.fastFromPeer,
	})
	if err != nil {
		return err
	}
	r.node.Store(node)
	s.node = node
	log.Info("cluster: node started, joining", "node", node.Name(), "gossip", node.GossipAddr(), "join", opts.Join)
	if err := node.WaitReady(ctx); err != nil {
		return fmt.Errorf("server: cluster: %w", err)
	}
	return nil
}

// stopCluster leaves the cluster; Shutdown calls it once the sessions got
// their stream errors, and a failed New calls it so no node lingers.
func (s *Server) stopCluster() {
	if s.node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterLeaveTimeout)
	defer cancel()
	if err := s.node.Stop(ctx); err != nil {
		s.logger().Warn("cluster: leaving", "err", err)
	}
}

// announceKeys tells the cluster the fingerprints of a host's file and env
// keys (never the keys), so that a node whose copy differs from a peer's
// logs an error.
func (s *Server) announceKeys(host string, store *keystore.Store) {
	if s.node == nil {
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
		s.node.AnnounceKey(host, info.Name, k)
		clear(k)
	}
}

// clusterStarted runs at the end of New: the fingerprints of the keys
// opened, and the cluster's gauges.
func (s *Server) clusterStarted() {
	node := s.node
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
		m.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "xtokend_cluster_replay_fallbacks_total",
			Help: "Replay checks that asked a fallback member because an owner did not answer (crashed, link down, slow).",
		}, func() float64 { return float64(node.Stats().ReplayFallbacks) }))
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
func (s *Server) keyReplaced(host, name string) {
	go func() { // the hook must not block; New may still be running
		select {
		case <-s.started:
		case <-s.ctx.Done(): // New failed, or Shutdown gave up
			return
		}
		h := s.lookupHost(host)
		if h == nil {
			return
		}
		s.ops.reloadMu.Lock() // not at the same time as a Reload's swap
		defer s.ops.reloadMu.Unlock()
		b, prev, until, ok := s.node.RAMKeyVersions(host, name)
		if !ok {
			return
		}
		defer clear(b)
		if prev != nil { // rotated by another node (Server.RotateRAM)
			defer clear(prev)
			s.takeRotatedKey(h, name, b, prev, until)
			return
		}
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
func (s *Server) conflict(full string) {
	if sess := s.reg.lookup(full); sess != nil {
		sess.kill(condConflict, "replaced by a new session on another node")
	}
}

// undelivered is Hooks.Undelivered: a stanza routed to node never reached
// it. Its sender gets service-unavailable, as when no node has the
// recipient, when no other node was given the stanza (sole, or to a full
// JID); errors, IQ results and presence are never answered.
func (s *Server) undelivered(node string, b []byte, sole bool) {
	b = bytes.Clone(b) // the hook must not block, and b may be reused
	go func() {
		h, err := stanzaHead(b)
		if err != nil || h.name == "presence" || h.typ == "error" || (h.name == "iq" && h.typ == "result") || h.from == "" {
			return
		}
		to, err := jid.Parse(h.to)
		if err != nil || !sole && to.Resourcepart() == "" {
			return // another node got a copy
		}
		reply := stanzaError(h.name, h.id, h.to, h.from, stanza.Cancel, stanza.ServiceUnavailable, "")
		if t := s.reg.lookup(h.from); t != nil {
			t.enqueue(reply)
		} else if where, ok := s.router.lookup(h.from); ok {
			s.send(where, reply, false)
		}
	}()
}

// sessionsLost is Hooks.SessionsLost: node crashed with sessions bound.
// Each that was available sends, through this node's sessions, the
// unavailable presence its end would have sent, delivered as one received
// from that node.
func (s *Server) sessionsLost(node string, lost []cluster.Binding) {
	go func() {
		for _, b := range lost {
			if !b.Available {
				continue
			}
			full, err := jid.Parse(b.JID)
			if err != nil {
				continue
			}
			var buf bytes.Buffer
			openStanza(&buf, "presence", "unavailable", "", b.JID, full.Bare().String())
			buf.WriteString("</presence>")
			s.receive(node, buf.Bytes(), false)
		}
	}()
}
