package sasl

import "context"

// Attempt runs one exchange whose mechanism and decoded-from-XML initial
// response (still base64) the caller read itself, as a SASL2
// <authenticate/> carries them (XEP-0388). It checks what Exchange checks
// for an <auth/> (the mechanism is offered, the payload fits, the gate, the
// verifier with its replay cache, the failed-login limit) and calls
// OnResult with the outcome. The caller answers the client and counts
// failures toward its own MaxAttempts.
func (cfg FeatureConfig) Attempt(ctx context.Context, mechanism string, payload []byte) (string, *Error) {
	cfg = cfg.withDefaults()
	var fail *Error
	var node string
	switch {
	case !cfg.offers(mechanism):
		fail = errMechanism
	case len(payload) > maxPayload:
		fail = &Error{MalformedRequest, "payload too large"}
	case isEmptyPayload(payload):
		fail = &Error{MalformedRequest, "no initial response"}
	default:
		node, fail = cfg.attempt(ctx, payload)
	}
	if fail != nil {
		cfg.OnResult("", fail)
		return "", fail
	}
	cfg.OnResult(node, nil)
	return node, nil
}

// MaxPayload is the longest base64 payload Attempt takes: MaxResponseSize
// once decoded.
func MaxPayload() int { return maxPayload }
