// Package sasl implements X-TOKEN, the SASL mechanism by which clients log in
// to xtokend, in the token layout of Prosody's mod_auth_token.
//
// A token is minted by an application backend (or by the server) for one user
// of one virtual host, and is good for a short time:
//
//	token = OTP || NONCE || " " || base64(HMAC-SHA256(access_secret, OTP || NONCE || node "@" host))
//
// OTP is the RFC 6238 TOTP code (HMAC-SHA1, computed with github.com/pquerna/otp)
// of the host's otp_seed key for the current time step, NONCE is a run of
// random decimal digits of a fixed length, and host is the virtual host as
// configured. The client sends the token as the SASL initial response in
// PLAIN's layout, authzid NUL authcid NUL token.
//
// The user logs in as node, the username (authcid) after PRECIS
// UsernameCaseMapped (RFC 8265): "Alice" and "alice" are one account. As in
// Prosody, a token signed for that case-mapped node logs in whatever case the
// client sends. A token signed for the username exactly as the client sends
// it logs in too, as the same node: an application that signs the name its
// user typed ("Alice") then works without applying PRECIS itself, which is
// what application developers do first. This costs one more HMAC, only for a
// username that case mapping changes. No third spelling is accepted ("aLice"
// with a token signed for "Alice" is refused), so a token still names one
// account, and the replay cache, keyed by the token's signature, accepts it
// once whichever form it was signed for.
//
// A [Verifier] holds one host's two keys and its [Options]; it mints tokens
// ([Verifier.Mint]) and checks SASL responses ([Verifier.Verify]). Checking is
// stricter than the original: the nonce must have exactly the configured
// length (so that the digits of a username such as "1alice" cannot be moved
// into the nonce), a non-empty authzid must be the user's bare JID, secret
// derived bytes are compared in constant time, and a [ReplayCache] shared by
// all hosts accepts each token once for as long as it could verify, refusing
// logins rather than forgetting tokens when it is full.
//
// Every failure is an [*Error] carrying the RFC 6120 section 6.5 condition to
// send to the client; its text never holds a key, token, OTP or nonce.
//
// [Feature] is the server side of the SASL stream feature for mellium.im/xmpp:
// unlike mellium's own SASLServer it answers every failure with its condition
// and lets a client try again, up to three times. [FeatureConfig.Exchange]
// runs the same exchange on a stream of the caller's own. [ClientMechanism] is
// the client side, for tests and tools.
//
// SASL PLAIN (RFC 4616) has X-TOKEN's initial response, authzid NUL authcid
// NUL password, so a host with [Options.Plain] also offers PLAIN with a token
// as the password, for the many clients that have no X-TOKEN: the exchange,
// the verifier, the replay cache (a token used through one mechanism is
// refused through the other) and the answers are X-TOKEN's. The server lists
// [Options.Mechanisms] in [FeatureConfig.Mechanisms] on a stream where a
// password may be sent, which is an encrypted one unless the configuration
// allows SASL in the clear.
//
// Go programs mint tokens with [MintToken] (the two keys' bytes), [Mint] (a
// [Keys]) or a [Verifier].
package sasl
