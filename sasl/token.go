package sasl

import "bytes"

// sigLen is the length of the token's signature: base64 of 32 bytes, padded.
const sigLen = 44

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
	sp := 0
	for sp < len(token) && token[sp]-'0' <= 9 { // a byte below '0' wraps around
		sp++
	}
	if sp == len(token) || token[sp] != ' ' || len(token)-sp-1 != sigLen {
		return nil, sig, errTokenShape
	}
	digits = token[:sp]
	if nonceDigits > 0 && len(digits) != otpDigits+nonceDigits || len(digits) < otpDigits {
		return nil, sig, errTokenDigits
	}
	if !decodeSig(&sig, token[sp+1:]) {
		return nil, sig, errTokenShape
	}
	return digits, sig, nil
}

// b64Values maps a standard base64 character to its value, others to 0xff.
var b64Values = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeSig decodes the 44 characters of a signature: what strictBase64
// accepts for 32 bytes, and nothing else (no newlines, the one canonical
// spelling), in a fraction of the general decoder's time.
func decodeSig(dst *[32]byte, src []byte) bool {
	if len(src) != sigLen || src[43] != '=' {
		return false
	}
	var bad byte
	for i := 0; i < 10; i++ {
		a, b, c, d := b64Values[src[4*i]], b64Values[src[4*i+1]], b64Values[src[4*i+2]], b64Values[src[4*i+3]]
		bad |= a | b | c | d
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[3*i], dst[3*i+1], dst[3*i+2] = byte(v>>16), byte(v>>8), byte(v)
	}
	a, b, c := b64Values[src[40]], b64Values[src[41]], b64Values[src[42]]
	bad |= a | b | c
	v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6
	dst[30], dst[31] = byte(v>>16), byte(v>>8)
	// 0xff has bit 7 set; valid values are below 64. Bits left over in the
	// last character make a second spelling of the same bytes: refuse it.
	return bad&0xc0 == 0 && c&0x03 == 0
}
