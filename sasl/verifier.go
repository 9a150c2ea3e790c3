package sasl

import (
	"errors"
	"time"
)

// STUB signatures: the sasl helper replaces the bodies.

// Condition is a SASL failure condition of RFC 6120 section 6.5.
type Condition string

const (
	IncorrectEncoding    Condition = "incorrect-encoding"
	MalformedRequest     Condition = "malformed-request"
	InvalidAuthzid       Condition = "invalid-authzid"
	NotAuthorized        Condition = "not-authorized"
	TemporaryAuthFailure Condition = "temporary-auth-failure"
	InvalidMechanism     Condition = "invalid-mechanism"
	Aborted              Condition = "aborted"
)

// Error is a verification failure. Reason never holds a key, token or seed.
type Error struct {
	Condition Condition
	Reason    string
}

func (e *Error) Error() string { return "sasl: " + string(e.Condition) + ": " + e.Reason }

// ReplayCache remembers used tokens until they can no longer verify.
type ReplayCache struct{}

// NewReplayCache returns a cache holding at most max tokens.
func NewReplayCache(max int) *ReplayCache { return &ReplayCache{} }

// Verifier mints and verifies X-TOKEN tokens for one host.
type Verifier struct{}

// NewVerifier reads the host's keys named by opts once and prepares them.
func NewVerifier(host string, keys Keys, opts Options, replay *ReplayCache) (*Verifier, error) {
	return nil, errors.New("sasl: not implemented")
}

// Mint returns a fresh token for node at now, and when it stops verifying.
func (v *Verifier) Mint(node string, now time.Time) (token string, expiresAt time.Time, err error) {
	return "", time.Time{}, errors.New("sasl: not implemented")
}

// Verify checks one SASL initial response (already base64-decoded:
// authzid NUL authcid NUL token) and returns the authenticated node (localpart).
// A failure is an *Error.
func (v *Verifier) Verify(response []byte, now time.Time) (node string, err error) {
	return "", &Error{Condition: NotAuthorized, Reason: "not implemented"}
}
