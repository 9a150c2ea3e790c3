package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/server/adminclient"
)

// RAM keys rotate through the admin API:
//
//	POST /v1/hosts/{host}/rotate -> {"host","keys":["access_secret","otp_seed"],"old_keys_until"}
//
// Every RAM key of the host gets new random bytes of its size, on every
// node; tokens minted from then on are signed with them. The old keys go on
// verifying until every token they signed has expired (one token lifetime:
// otp_period * (otp_skew + 1), after a short grace), then they are wiped
// from memory on every node. So no login is refused: a token minted a
// moment before the rotation still logs in anywhere.
//
// The node asked accepts the new keys at once but signs with the old ones
// for rotationGrace more, the time the new keys take to reach the other
// nodes: a token it mints is then never one another node cannot verify yet.

// rotationGrace is how long the node that rotates keeps signing with the
// old keys while the new ones travel to the other nodes.
const rotationGrace = 2 * time.Second

// ErrNoRAMKeys is the error of RotateRAM for a host whose keys are all file
// or env keys (they rotate with accept, in the configuration).
var ErrNoRAMKeys = errors.New("server: the host has no RAM keys")

// RotateResult is what RotateRAM did.
type RotateResult struct {
	Host string
	Keys []string  // the RAM keys rotated, sorted
	Old  time.Time // when the old keys stop verifying and are wiped
}

// RotateRAM gives every RAM key of host new bytes, cluster-wide; see the top
// of this file.
func (s *Server) RotateRAM(ctx context.Context, hostName string) (RotateResult, error) {
	h := s.lookupHost(hostName)
	if h == nil {
		return RotateResult{}, fmt.Errorf("%w: %q", ErrUnknownHost, hostName)
	}
	s.ops.reloadMu.Lock() // not at the same time as a reload's swap
	defer s.ops.reloadMu.Unlock()
	store := h.keys.Load().store
	old := make(map[string][]byte)
	for _, info := range store.List() {
		if info.Type == keystore.TypeRAM {
			b, err := store.Key(info.Name)
			if err != nil {
				return RotateResult{}, err
			}
			old[info.Name] = b
		}
	}
	if len(old) == 0 {
		return RotateResult{}, fmt.Errorf("%w: %q (file and env keys rotate with accept in the configuration)", ErrNoRAMKeys, h.name)
	}
	at := h.settings.AuthToken
	keep := rotationGrace + time.Duration(at.OTPSkew+1)*time.Duration(at.OTPPeriod)*time.Second
	next, err := s.router.rotateRAM(h.name, old, keep)
	if err != nil {
		return RotateResult{}, err
	}
	res := RotateResult{Host: h.name, Old: time.Now().Add(keep)}
	// Accept the new keys at once, sign with them after the grace.
	for name, b := range next {
		if err := store.RotateRAM(name, old[name], b); err != nil {
			return RotateResult{}, err
		}
		res.Keys = append(res.Keys, name)
	}
	slices.Sort(res.Keys)
	if err := s.ReplaceKeys(h.name, store); err != nil {
		return RotateResult{}, err
	}
	time.AfterFunc(rotationGrace, func() {
		s.ops.reloadMu.Lock()
		defer s.ops.reloadMu.Unlock()
		for name, b := range next {
			s.swapInRotated(h, name, b, old[name])
		}
		s.rebuild(h)
		for _, b := range old {
			clear(b)
		}
	})
	s.dropAfter(h, res.Keys, res.Old)
	s.logger().Info("rotated the RAM keys", "host", h.name, "keys", res.Keys, "old_keys_until", res.Old.UTC().Format(time.RFC3339))
	return res, nil
}

// takeRotatedKey is a rotation made by another node reaching this one. Like
// the node that rotated, this one accepts the new key at once but signs with
// the old one for rotationGrace more: the new key may not have reached every
// node yet (not even the node that rotated, which sends it before taking
// it), and a token this node mints must verify everywhere. The old key
// verifies until until.
func (s *Server) takeRotatedKey(h *host, name string, key, prev []byte, until time.Time) {
	if time.Until(until) <= rotationGrace {
		// Arrived late: every node has had the new key for long.
		s.swapInRotated(h, name, key, prev)
		s.rebuild(h)
		s.dropAfter(h, []string{name}, until)
		return
	}
	s.swapInRotated(h, name, prev, key)
	s.rebuild(h)
	next, old := bytes.Clone(key), bytes.Clone(prev) // the caller clears its copies
	time.AfterFunc(rotationGrace, func() {
		s.ops.reloadMu.Lock()
		defer s.ops.reloadMu.Unlock()
		s.swapInRotated(h, name, next, old)
		s.rebuild(h)
		clear(next)
		clear(old)
	})
	s.dropAfter(h, []string{name}, until)
}

// swapInRotated makes key the RAM key name of h's store, prev accepted.
func (s *Server) swapInRotated(h *host, name string, key, prev []byte) {
	if err := h.keys.Load().store.RotateRAM(name, key, prev); err != nil {
		s.logger().Error("rotating a RAM key", "host", h.name, "key", name, "err", err)
	}
}

// rebuild builds h's verifier again from its store.
func (s *Server) rebuild(h *host) {
	if err := s.ReplaceKeys(h.name, h.keys.Load().store); err != nil {
		s.logger().Error("rebuilding the verifier", "host", h.name, "err", err)
	}
}

// dropAfter forgets the old versions of h's keys names at until.
func (s *Server) dropAfter(h *host, names []string, until time.Time) {
	time.AfterFunc(time.Until(until), func() {
		s.ops.reloadMu.Lock()
		defer s.ops.reloadMu.Unlock()
		dropped := false
		for _, name := range names {
			dropped = h.keys.Load().store.DropAccepted(name) || dropped
		}
		if dropped {
			s.rebuild(h)
			s.logger().Info("the RAM keys replaced by a rotation no longer verify", "host", h.name, "keys", names)
		}
	})
}

// rotateRAM on a server alone draws the new keys here.
func (localRouter) rotateRAM(_ string, old map[string][]byte, _ time.Duration) (map[string][]byte, error) {
	next := make(map[string][]byte, len(old))
	for name, b := range old {
		k := make([]byte, len(b))
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("server: crypto/rand: %w", err)
		}
		next[name] = k
	}
	return next, nil
}

// rotateRAM in a cluster has the node draw them and send them to every
// member, and reads them back.
func (r *clusterRouter) rotateRAM(host string, old map[string][]byte, keep time.Duration) (map[string][]byte, error) {
	n := r.node.Load()
	names, err := n.RotateRAM(host, keep)
	if err != nil {
		return nil, err
	}
	next := make(map[string][]byte, len(names))
	for _, name := range names {
		if _, ok := old[name]; !ok {
			continue // a key of this name the configuration does not use
		}
		b, ok := n.RAMKey(host, name)
		if !ok {
			return nil, fmt.Errorf("server: the cluster lost the RAM key %q of %q", name, host)
		}
		next[name] = b
	}
	return next, nil
}

// rotate is POST /v1/hosts/{host}/rotate.
func (h *adminHandler) rotate(w http.ResponseWriter, r *http.Request) {
	rt, ok := h.b.(interface {
		RotateRAM(ctx context.Context, host string) (adminclient.Rotation, error)
	})
	if !ok {
		writeAdminError(w, http.StatusNotImplemented, "this server does not rotate keys")
		return
	}
	res, err := rt.RotateRAM(r.Context(), r.PathValue("host"))
	if err != nil {
		h.writeBackendError(w, "rotation", err)
		return
	}
	writeAdminJSON(w, http.StatusOK, res)
}

// RotateRAM is the admin API's view of Server.RotateRAM.
func (a serverAdmin) RotateRAM(ctx context.Context, host string) (adminclient.Rotation, error) {
	res, err := a.s.RotateRAM(ctx, host)
	switch {
	case errors.Is(err, ErrNoRAMKeys):
		return adminclient.Rotation{}, &adminclient.APIError{Status: http.StatusConflict, Message: err.Error()}
	case err != nil:
		return adminclient.Rotation{}, adminStatusOf(err)
	}
	return adminclient.Rotation{Host: res.Host, Keys: res.Keys, OldKeysUntil: res.Old.UTC()}, nil
}

// KeyVersions is how many versions of host's key name verify now (2 during
// a rotation, else 1; 0 for no such key).
func (s *Server) KeyVersions(hostName, name string) int {
	h := s.lookupHost(hostName)
	if h == nil {
		return 0
	}
	v, err := h.keys.Load().store.Versions(name)
	if err != nil {
		return 0
	}
	for _, b := range v {
		clear(b)
	}
	return len(v)
}
