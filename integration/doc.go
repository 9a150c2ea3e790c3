// Package integration proves, with clients this project did not write, that a stock XMPP client
// logs in to xtokend with SASL X-TOKEN.
//
// The tests build the xtokend binary once (TestMain), write a TOML configuration into a temporary
// folder, start `xtokend serve -config F` on a free loopback port and drive it with real clients:
//
//   - slixmpp (Debian python3-slixmpp), clients/slixmpp_client.py
//   - xmpp.js (@xmpp/client 0.14.0 from npm, pinned by package-lock.json), clients/xmppjs_client.mjs
//   - aioxmpp (Debian python3-aioxmpp), clients/aioxmpp_client.py
//
// Each script adds X-TOKEN to its library the way that library takes a custom mechanism, talks
// STARTTLS to the server's self-signed certificate (and trusts nothing else), and prints one JSON
// line per event (bound, presence, message, sent, auth_failed, error). Tokens come from the
// binary's own `xtokend token -json` command, so the CLI is tested too, and from an independent
// Prosody-style minter in these tests, for tokens the server never saw minted (expired ones).
//
// A client that is not installed skips its tests with a message naming the package, unless CI=true,
// where it is a failure. scripts/install-test-deps.sh installs all three. XTOKEND_BIN=path runs the
// tests against a binary built elsewhere instead of building one.
package integration
