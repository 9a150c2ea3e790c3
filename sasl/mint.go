package sasl

import "time"

// MintToken returns a fresh token for node (a username, case-mapped like a
// login's) at host, and the time it stops verifying: the TOTP code of otpSeed
// and a random nonce, signed with accessSecret, with the digits, period and
// nonce length of opts (its key names are not used). It is for Go programs
// that hold the host's two keys themselves, such as an application backend.
//
// The keys are the bytes xtokend holds: for a key file of the default
// encoding "raw", the file's text with surrounding whitespace trimmed, as
// Prosody reads token_secret; for another encoding, the decoded bytes.
func MintToken(accessSecret, otpSeed []byte, opts Options, node, host string, now time.Time) (token string, expiresAt time.Time, err error) {
	opts.SecretKey, opts.SeedKey = "access_secret", "otp_seed"
	keys := KeyMap{opts.SecretKey: accessSecret, opts.SeedKey: otpSeed}
	return Mint(keys, opts, node, host, now)
}
