package sasl

import "mellium.im/sasl"

// MechanismName is the SASL mechanism's name.
const MechanismName = "X-TOKEN"

// ClientMechanism returns the client side of X-TOKEN for mellium.im/sasl,
// for tests and tools: its initial response is authzid NUL username NUL
// token, and it expects no challenge. It is not needed on the server, where
// Feature does the whole exchange.
func ClientMechanism(authzid, username, token string) sasl.Mechanism {
	resp := make([]byte, 0, len(authzid)+len(username)+len(token)+2)
	resp = append(resp, authzid...)
	resp = append(resp, 0)
	resp = append(resp, username...)
	resp = append(resp, 0)
	resp = append(resp, token...)
	return sasl.Mechanism{
		Name: MechanismName,
		Start: func(*sasl.Negotiator) (bool, []byte, interface{}, error) {
			return false, append([]byte(nil), resp...), nil, nil
		},
		Next: func(_ *sasl.Negotiator, challenge []byte, _ interface{}) (bool, []byte, interface{}, error) {
			// A server that sends an empty challenge after a non-empty
			// initial response is confused; answering again does no harm.
			if len(challenge) == 0 {
				return false, append([]byte(nil), resp...), nil, nil
			}
			return false, nil, nil, sasl.ErrInvalidChallenge
		},
	}
}
