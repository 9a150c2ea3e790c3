package sasl

import (
	"bytes"
	"encoding/base64"
)

// sigLen is the length of the token's signature: base64 of 32 bytes, padded.
const sigLen = 44

// strictBase64 refuses non-canonical encodings, so that one signature has
// exactly one spelling (and so one entry in the replay cache).
var strictBase64 = base64.StdEncoding.Strict()

// splitResponse splits a SASL response in PLAIN's layout,
// authzid NUL authcid NUL token, into its three fields.
func splitResponse(resp []byte) (authzid, authcid, token []byte, err *Error) {
	i := bytes.IndexByte(resp, 0)
	if i < 0 {
		return nil, nil, nil, errNotThreeFields
	}
	j := bytes.IndexByte(resp[i+1:], 0)
	if j < 0 {
		return nil, nil, nil, errNotThreeFields
	}
	j += i + 1
	if bytes.IndexByte(resp[j+1:], 0) >= 0 {
		return nil, nil, nil, errNotThreeFields
	}
	return resp[:i], resp[i+1 : j], resp[j+1:], nil
}

// parseToken checks the token's shape, digits SP base64(32 bytes), and
// returns its digits (OTP || NONCE) and its decoded signature. With
// nonceDigits 0 the nonce may have any length, as in Prosody.
func parseToken(token []byte, otpDigits, nonceDigits int) (digits []byte, sig [32]byte, err *Error) {
	if len(token) > MaxTokenSize {
		return nil, sig, errTokenTooLong
	}
	sp := bytes.IndexByte(token, ' ')
	if sp < 0 || len(token)-sp-1 != sigLen {
		return nil, sig, errTokenShape
	}
	digits = token[:sp]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil, sig, errTokenShape
		}
	}
	if nonceDigits > 0 && len(digits) != otpDigits+nonceDigits || len(digits) < otpDigits {
		return nil, sig, errTokenDigits
	}
	var buf [33]byte // base64's DecodedLen(44): the padding counts
	n, e := strictBase64.Decode(buf[:], token[sp+1:])
	if e != nil || n != len(sig) {
		return nil, sig, errTokenShape
	}
	copy(sig[:], buf[:n])
	return digits, sig, nil
}
