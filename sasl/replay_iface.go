package sasl

import (
	"context"
	"fmt"
	"time"
)

// SharedReplay is a replay check shared by several servers: a token used on
// one is refused on every other. *cluster.Node satisfies it.
//
// CheckAndRemember reports whether the token whose id is tokenID is fresh for
// node@host, and remembers it until expiry, when it can no longer verify.
// fresh is false for a token seen before anywhere. An error (a peer out of
// reach, a full store, ctx ending) fails the login with
// temporary-auth-failure: accepting it could let a replay through.
//
// The id is the first 16 bytes of the token's signature, as in ReplayCache:
// a keyed hash of (host, node, OTP || NONCE) that no client can make collide
// without the host's secret. It is not secret (the client sent it).
type SharedReplay interface {
	CheckAndRemember(ctx context.Context, host, node string, tokenID []byte, expiry time.Time) (fresh bool, err error)
}

// replayIDSize is the bytes of the signature that identify a token.
const replayIDSize = 16

// errSharedReplay is the failure when the shared replay check cannot answer.
var errSharedReplay = &Error{TemporaryAuthFailure, "replay check across the cluster failed"}

// NewSharedVerifier is NewVerifier with a shared replay check in place of a
// local ReplayCache: the check runs only once a token's OTP and signature
// verified, so an unauthenticated client never costs a round trip to
// another node. With opts.ReplayProtection false, or a nil shared, there is
// no replay protection.
func NewSharedVerifier(host string, keys Keys, opts Options, shared SharedReplay) (*Verifier, error) {
	v, err := NewVerifier(host, keys, opts, nil)
	if err != nil {
		return nil, err
	}
	if opts.ReplayProtection {
		v.shared = shared
	}
	return v, nil
}

// useShared asks the shared check about a verified token of node whose OTP
// time step ends verifying at expiresAt (Unix seconds). The id is passed by
// value so that only this path, not Verify's, puts it on the heap.
func (v *Verifier) useShared(ctx context.Context, node string, id [replayIDSize]byte, expiresAt int64) (string, error) {
	fresh, err := v.shared.CheckAndRemember(ctx, v.host, node, id[:], time.Unix(expiresAt, 0))
	switch {
	case err != nil:
		return "", &Error{TemporaryAuthFailure, fmt.Sprintf("%s: %v", errSharedReplay.Reason, err)}
	case !fresh:
		return "", errReplay
	}
	return node, nil
}
