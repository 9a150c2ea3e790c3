package sasl

import (
	"time"

	"mellium.im/xmpp"
)

// FeatureConfig configures the X-TOKEN stream feature of one connection.
type FeatureConfig struct {
	// Verifier returns the host's current verifier (a func so a reload takes effect).
	Verifier func() *Verifier
	// MaxAttempts is how many <auth/> a connection may send; then a policy-violation stream error. 0 means 3.
	MaxAttempts int
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// OnResult is called after each attempt: node is set on success, err (an *Error) on failure.
	OnResult func(node string, err error)
}

// Feature returns the server-side SASL stream feature offering X-TOKEN. Make one per connection.
// STUB: the sasl helper implements it.
func Feature(cfg FeatureConfig) xmpp.StreamFeature {
	return xmpp.StreamFeature{}
}
