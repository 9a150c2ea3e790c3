package sasl

// PlainMechanismName is SASL PLAIN (RFC 4616). Its initial response,
// authzid NUL authcid NUL password, is X-TOKEN's layout, so with a token as
// the password the same verifier checks it: a client that has no X-TOKEN
// (none of the common ones has) logs in with PLAIN and a token.
const PlainMechanismName = "PLAIN"

// The mechanism lists Options.Mechanisms returns, shared: callers must not
// modify them.
var (
	mechanismsXToken = []string{MechanismName}
	mechanismsPlain  = []string{MechanismName, PlainMechanismName}
)

// Mechanisms returns the SASL mechanisms a host with these options offers,
// in order of preference: X-TOKEN, then PLAIN when Plain is set. It is what
// FeatureConfig.Mechanisms wants on a stream where PLAIN may be offered: an
// encrypted one, or a plaintext one where the configuration allows SASL in
// the clear. The slice is shared; do not modify it.
func (o Options) Mechanisms() []string {
	if o.Plain {
		return mechanismsPlain
	}
	return mechanismsXToken
}

// AppendMechanisms appends the <mechanisms/> stream feature that a
// FeatureConfig whose Mechanisms are mechs offers, for a server that writes
// its stream features as bytes: X-TOKEN, then PLAIN if mechs has it.
func AppendMechanisms(b []byte, mechs []string) []byte {
	b = append(b, "<mechanisms xmlns='"+NS+"'>"...)
	for _, m := range (FeatureConfig{Mechanisms: mechs}).mechanisms() {
		b = append(b, "<mechanism>"...)
		b = append(b, m...)
		b = append(b, "</mechanism>"...)
	}
	return append(b, "</mechanisms>"...)
}

// mechanisms returns the mechanisms cfg offers, in order: X-TOKEN always,
// first; PLAIN when cfg.Mechanisms has it. Other names are ignored: this
// package runs no other mechanism.
func (cfg FeatureConfig) mechanisms() []string {
	for _, m := range cfg.Mechanisms {
		if m == PlainMechanismName {
			return mechanismsPlain
		}
	}
	return mechanismsXToken
}

// offers reports whether an <auth/> for mechanism runs the exchange: the
// mechanism is one cfg offers. Both run the same verification.
func (cfg FeatureConfig) offers(mechanism string) bool {
	return mechanism == MechanismName || mechanism == PlainMechanismName && len(cfg.mechanisms()) > 1
}
