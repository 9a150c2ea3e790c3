package sasl

import "time"

// VerifierHooks are what a server adds to a verifier's checks. Each func is
// optional, must be safe for concurrent use and must not block: it runs in
// every login.
type VerifierHooks struct {
	// Revoked reports whether the tokens of node@host minted at minted (the
	// start of the token's OTP time step, the most precise time a token
	// tells) were revoked. It is asked only once the token's OTP and
	// signature verified, before the replay check, so a revoked token takes
	// no room in the replay cache. A revoked token fails with not-authorized
	// and the reason "revoked". node is the verifier's scratch: read it,
	// do not keep it.
	Revoked func(host string, node []byte, minted time.Time) bool
	// AcceptedVersion is told of each login whose token verified with an
	// accepted version of a key, not the one in force (a key in rotation),
	// so that an operator sees when the old version may go.
	AcceptedVersion func(host string)
}

// errRevoked is the failure of a revoked token.
var errRevoked = &Error{NotAuthorized, "revoked"}

// SetHooks sets the verifier's hooks. Call it before the verifier is used,
// as the server does where it builds one.
func (v *Verifier) SetHooks(h VerifierHooks) { v.hooks = h }

// acceptedVersion tells the hook of a login that matched version != 0.
func (v *Verifier) acceptedVersion(version int) {
	if version != 0 && v.hooks.AcceptedVersion != nil {
		v.hooks.AcceptedVersion(v.host)
	}
}

// Versions reports how many versions of the access secret and of the OTP
// seed the verifier accepts (check-config and tests show it).
func (v *Verifier) Versions() (secrets, seeds int) { return v.secrets, len(v.seeds) }
