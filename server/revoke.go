package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/cluster"
)

// Revocation cuts a user off now. An operator revokes a bare JID: every token
// of it minted until then is refused by every node, and its sessions end
// with a not-authorized stream error whose text is "revoked". A token tells
// when it was minted only to its OTP time step, so the refusal covers the
// whole step the revocation falls in: a token minted from the start of the
// next step (at most otp_period seconds later) logs in again. A revocation
// is kept in memory until the last token it refuses has expired anyway
// (the end of that step's window, otp_skew steps later), then dropped: no
// token it concerns could verify after that, so nothing needs to survive a
// restart.
//
// Revoking a full JID ends that session and bars that full JID from binding
// again until the revocation expires; the user's other resources and tokens
// are untouched. A kick ends one session and revokes nothing.

// Texts of the stream errors that end revoked (not-authorized) and kicked
// (policy-violation) sessions.
const (
	textRevoked = "revoked"
	textKicked  = "ended by an administrator"
)

// RevokeResult is what a revocation did on this node.
type RevokeResult struct {
	JID      string    // the bare JID
	Resource string    // "" when every session and token of JID was revoked
	At       time.Time // when it took effect
	// ValidFrom is when tokens minted from then on log in again (the next
	// OTP time step); Until is when the revocation is forgotten (every token
	// it refuses has expired).
	ValidFrom, Until time.Time
	// Ended counts the sessions this node ended.
	Ended int
	// Unreached are the cluster's nodes the revocation did not reach.
	Unreached []string
}

// revocations are the revocations in force on this node.
type revocations struct {
	count atomic.Int64 // entries held: logins skip the lock while it is 0
	mu    sync.RWMutex
	bare  map[string]map[string]revoked // host -> node -> the latest revocation
	full  map[string]revoked            // full JID -> the latest revocation
}

// revoked is one revocation: tokens minted at or before at are refused,
// until until.
type revoked struct{ at, until time.Time }

// tokenRevoked is sasl.VerifierHooks.Revoked: whether a token of node@host
// minted at minted (its OTP step's start) was revoked.
func (rs *revocations) tokenRevoked(host string, node []byte, minted time.Time) bool {
	if rs.count.Load() == 0 {
		return false
	}
	rs.mu.RLock()
	r, ok := rs.bare[host][string(node)]
	rs.mu.RUnlock()
	return ok && !minted.After(r.at) && time.Now().Before(r.until)
}

// bindRevoked reports whether a session of full, whose login completed at
// loggedIn, may not bind: its bare JID was revoked after the login (a login
// that verified its token just before the revocation arrived), or the full
// JID is barred.
func (rs *revocations) bindRevoked(host, node, full string, loggedIn time.Time) bool {
	if rs.count.Load() == 0 {
		return false
	}
	now := time.Now()
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	if r, ok := rs.bare[host][node]; ok && !loggedIn.After(r.at) && now.Before(r.until) {
		return true
	}
	r, ok := rs.full[full]
	return ok && now.Before(r.until)
}

// add records a revocation and schedules its removal at until.
func (rs *revocations) add(host, node, full string, r revoked) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if full != "" {
		if old, ok := rs.full[full]; !ok || old.until.Before(r.until) {
			if !ok {
				rs.count.Add(1)
			}
			if rs.full == nil {
				rs.full = make(map[string]revoked)
			}
			rs.full[full] = r
		}
	} else {
		if rs.bare == nil {
			rs.bare = make(map[string]map[string]revoked)
		}
		if rs.bare[host] == nil {
			rs.bare[host] = make(map[string]revoked)
		}
		if old, ok := rs.bare[host][node]; !ok || old.at.Before(r.at) {
			if !ok {
				rs.count.Add(1)
			}
			rs.bare[host][node] = r
		}
	}
	time.AfterFunc(time.Until(r.until)+time.Second, rs.prune)
}

// prune drops the revocations no token they concern could pass any more.
func (rs *revocations) prune() {
	now := time.Now()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for host, nodes := range rs.bare {
		for node, r := range nodes {
			if !now.Before(r.until) {
				delete(nodes, node)
				rs.count.Add(-1)
			}
		}
		if len(nodes) == 0 {
			delete(rs.bare, host)
		}
	}
	for full, r := range rs.full {
		if !now.Before(r.until) {
			delete(rs.full, full)
			rs.count.Add(-1)
		}
	}
}

// Len is how many revocations are held (tests, metrics).
func (rs *revocations) Len() int { return int(rs.count.Load()) }

// Revoke revokes the tokens and sessions of bareJID (resource ""), or the
// session of bareJID/resource, on every node of the cluster: see the top of
// this file. Errors wrap ErrBadJID or ErrUnknownHost.
func (s *Server) Revoke(ctx context.Context, bareJID, resource string) (RevokeResult, error) {
	r, err := s.checkRevocation(bareJID, resource)
	if err != nil {
		return RevokeResult{}, err
	}
	r.At = time.Now()
	res := s.applyRevocation(r)
	r.Until = res.Until
	res.Unreached = s.router.spread(ctx, r)
	s.logger().Info("revoked", "jid", r.JID, "resource", r.Resource, "sessions_ended", res.Ended,
		"tokens_valid_from", res.ValidFrom.UTC().Format(time.RFC3339), "unreached_nodes", res.Unreached)
	return res, nil
}

// Kick ends the session of fullJID, wherever in the cluster it is bound,
// without revoking anything: the client may log in again. ended is false
// when no node has it bound.
func (s *Server) Kick(ctx context.Context, fullJID string) (ended bool, err error) {
	j, err := jid.Parse(fullJID)
	if err != nil || j.Localpart() == "" || j.Resourcepart() == "" {
		return false, fmt.Errorf("%w: %q: want user@host/resource", ErrBadJID, fullJID)
	}
	if s.lookupHost(j.Domainpart()) == nil {
		return false, fmt.Errorf("%w: %q", ErrUnknownHost, j.Domainpart())
	}
	full := j.String()
	if sess := s.reg.lookup(full); sess != nil {
		sess.kill(condPolicyViolation, textKicked)
		s.logger().Info("kicked", "jid", full)
		return true, nil
	}
	node, ok := s.router.lookup(full)
	if !ok {
		return false, nil
	}
	r := cluster.Revocation{JID: j.Bare().String(), Resource: j.Resourcepart(), At: time.Now(), Kick: true}
	for _, peer := range s.router.spread(ctx, r) {
		if peer == node {
			return false, fmt.Errorf("server: the node %s holding %s did not answer", node, full)
		}
	}
	s.logger().Info("kicked", "jid", full, "node", node)
	return true, nil
}

// checkRevocation normalizes a revocation's JID and resource.
func (s *Server) checkRevocation(bareJID, resource string) (cluster.Revocation, error) {
	j, err := jid.Parse(bareJID)
	if err != nil {
		return cluster.Revocation{}, fmt.Errorf("%w: %q: %v", ErrBadJID, bareJID, err)
	}
	if j.Localpart() == "" || j.Resourcepart() != "" {
		return cluster.Revocation{}, fmt.Errorf("%w: %q: want the bare JID user@host (the resource goes in \"resource\")", ErrBadJID, bareJID)
	}
	if s.lookupHost(j.Domainpart()) == nil {
		return cluster.Revocation{}, fmt.Errorf("%w: %q", ErrUnknownHost, j.Domainpart())
	}
	if resource != "" {
		full, err := jid.New(j.Localpart(), j.Domainpart(), resource)
		if err != nil {
			return cluster.Revocation{}, fmt.Errorf("%w: resource %q: %v", ErrBadJID, resource, err)
		}
		resource = full.Resourcepart()
	}
	return cluster.Revocation{JID: j.String(), Resource: resource}, nil
}

// applyRevocation records r on this node and ends the sessions it concerns
// here. A revocation for a host this node does not serve changes nothing.
func (s *Server) applyRevocation(r cluster.Revocation) RevokeResult {
	res := RevokeResult{JID: r.JID, Resource: r.Resource, At: r.At}
	j, err := jid.Parse(r.JID)
	if err != nil {
		return res
	}
	h := s.lookupHost(j.Domainpart())
	if h == nil {
		return res
	}
	full := ""
	if r.Resource != "" {
		full = r.JID + "/" + r.Resource
	}
	if r.Kick {
		if sess := s.reg.lookup(full); sess != nil {
			sess.kill(condPolicyViolation, textKicked)
			res.Ended = 1
		}
		return res
	}
	// Tokens of the OTP step r.At falls in are refused; they verify until
	// otp_skew steps after it.
	at := h.settings.AuthToken
	period := time.Duration(at.OTPPeriod) * time.Second
	step := r.At.Truncate(period)
	res.ValidFrom = step.Add(period)
	res.Until = step.Add(time.Duration(at.OTPSkew+1) * period)
	s.revoked.add(h.name, j.Localpart(), full, revoked{at: r.At, until: res.Until})
	// A FAST token would log in again without a new X-TOKEN. Every node
	// applies the revocation, so each drops its own copies.
	s.fast.apply(fastEvent{kind: fastEventRevoke, user: fastUser{host: h.name, node: j.Localpart()}})
	var sessions []*session
	if full != "" {
		if sess := s.reg.lookup(full); sess != nil {
			sessions = append(sessions, sess)
		}
	} else {
		sessions = s.reg.resources(r.JID)
	}
	for _, sess := range sessions {
		// A revocation that arrives late (sent again on a link that came
		// back) spares the sessions that logged in after it.
		if !sess.c.loggedIn.After(r.At) {
			sess.kill(condNotAuthorized, textRevoked)
			res.Ended++
		}
	}
	return res
}

// revokedByPeer is cluster.Hooks.Revoked: another node revoked or kicked.
func (s *Server) revokedByPeer(from string, r cluster.Revocation) {
	go func() { // the hook must not block
		// A node that joins is told of the revocations in force as its
		// peers' links come up, before New has built its hosts.
		select {
		case <-s.started:
		case <-s.ctx.Done(): // New failed, or Shutdown gave up
			return
		}
		res := s.applyRevocation(r)
		s.logger().Info("revoked by another node", "node", from, "jid", r.JID, "resource", r.Resource, "kick", r.Kick, "sessions_ended", res.Ended)
	}()
}

// shareFAST on a server alone: there is no one to tell.
func (localRouter) shareFAST(context.Context, []byte) []string { return nil }

// shareFAST tells every other node.
func (r *clusterRouter) shareFAST(ctx context.Context, event []byte) []string {
	return r.node.Load().ShareFAST(ctx, event)
}

// spread on a server alone: there is no one to tell.
func (localRouter) spread(context.Context, cluster.Revocation) []string { return nil }

// spread tells every other node of the cluster.
func (r *clusterRouter) spread(ctx context.Context, rev cluster.Revocation) []string {
	return r.node.Load().Revoke(ctx, rev)
}
