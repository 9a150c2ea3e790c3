// Package integration proves, with clients this project did not write, that a stock XMPP client
// logs in to xtokend with SASL X-TOKEN.
//
// The tests build the xtokend binary once (TestMain; with -race when the tests run with -race),
// write a TOML configuration into a temporary folder with two virtual hosts, file.test (keys in
// files, in Prosody's format: a raw access_secret and a base32 otp_seed) and ram.test (RAM keys),
// start `xtokend serve -config F` on a free loopback port and drive it with real clients:
//
//   - slixmpp (Debian python3-slixmpp), clients/slixmpp_client.py
//   - xmpp.js (@xmpp/client 0.14.0 from npm, pinned by package-lock.json), clients/xmppjs_client.mjs
//   - aioxmpp (Debian python3-aioxmpp), clients/aioxmpp_client.py
//   - sendxmpp (Debian sendxmpp, Perl), clients/sendxmpp_client.sh with clients/perl/Authen/SASL/Perl/X_TOKEN.pm
//
// Each script adds X-TOKEN to its library the way that library takes a custom mechanism, talks
// STARTTLS to the server's self-signed certificate (and trusts nothing else), and prints one JSON
// line per event (bound, presence, message, sent, auth_failed, stream_error, error). Tokens come
// from the binary's own `xtokend token -json` command (so the CLI is tested too; for ram.test it
// asks the running server over its admin socket), and from an independent Prosody-style minter in
// these tests, for tokens the server never saw minted (from the past, the future, or an issuer
// holding Prosody's token_secret and otp_seed).
//
// When the server stops, the tests check that it exited 0 after SIGTERM, that the race detector
// stayed quiet, and that no token, part of a token or key appears in its log.
//
// A client that is not installed skips its tests with a message naming the package, unless CI=true,
// where it is a failure. scripts/install-test-deps.sh installs all four. XTOKEND_BIN=path runs the
// tests against a binary built elsewhere instead of building one; -short skips the client tests.
package integration
