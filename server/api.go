package server

import (
	"errors"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/keystore"
)

// Errors of Mint, told apart with errors.Is (the admin API maps them to 400
// and 404).
var (
	ErrBadJID      = errors.New("server: bad JID")
	ErrUnknownHost = errors.New("server: unknown host")
)

// Hooks are the seams for the operations code (metrics, rate limiting). Every
// func is optional and must be safe for concurrent use; none may block.
type Hooks struct {
	// OnLogin is called after every SASL attempt: condition is the SASL
	// failure condition ("" on success).
	OnLogin func(host, condition string, ok bool)
	// OnSessionStart and OnSessionEnd bracket every bound session.
	OnSessionStart func(host string)
	OnSessionEnd   func(host string)
	// OnStanza is called for every stanza a client sends: "message",
	// "presence" or "iq".
	OnStanza func(kind string)
	// AllowConnection gates a new TCP connection; false closes it at once.
	AllowConnection func(remoteIP string) bool
	// AllowLogin gates each SASL attempt before it is verified; false fails
	// that attempt, a valid token too, with a temporary-auth-failure
	// <failure/> (it counts toward the connection's attempts). The
	// server's own failed-login limit ([limits]) is not a gate: it is asked
	// after verification and answers failures only.
	AllowLogin func(remoteIP string) bool
}

// Mint returns a fresh token for bareJID (node@host) from the running
// server's keys, and when it stops verifying. Errors wrap ErrBadJID or
// ErrUnknownHost, or come from the verifier.
func (s *Server) Mint(bareJID string) (token string, expiresAt time.Time, err error) {
	j, err := jid.Parse(bareJID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %q: %v", ErrBadJID, bareJID, err)
	}
	if j.Localpart() == "" || j.Resourcepart() != "" {
		return "", time.Time{}, fmt.Errorf("%w: %q: want node@host", ErrBadJID, bareJID)
	}
	h := s.lookupHost(j.Domainpart())
	if h == nil {
		return "", time.Time{}, fmt.Errorf("%w: %q", ErrUnknownHost, j.Domainpart())
	}
	return h.verifier().Mint(j.Localpart(), time.Now())
}

// Hosts returns every served host with its keys' names, types and sizes
// (never their values), from the keystores the server runs with.
func (s *Server) Hosts() map[string][]keystore.KeyInfo {
	out := make(map[string][]keystore.KeyInfo)
	for _, h := range s.hosts {
		out[h.name] = h.keys.Load().store.List()
	}
	return out
}

// ReplaceKeys swaps a host's keystore (a reload): a verifier is built from it
// with the shared replay cache, so tokens used before stay used. Logins
// already under way finish with the keys they started with.
func (s *Server) ReplaceKeys(hostName string, store *keystore.Store) error {
	h := s.lookupHost(hostName)
	if h == nil {
		return fmt.Errorf("%w: %q", ErrUnknownHost, hostName)
	}
	v, err := s.newVerifier(h.name, store, h.settings.AuthToken)
	if err != nil {
		return fmt.Errorf("server: host %q: %w", h.name, err)
	}
	h.keys.Store(&hostKeys{store: store, verifier: v})
	s.announceKeys(h.name, store) // a cluster compares file and env keys
	return nil
}
