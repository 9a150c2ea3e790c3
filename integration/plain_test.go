package integration

import "testing"

// TestPlainSlixmpp: stock slixmpp, without the X-TOKEN mechanism, logs in
// over STARTTLS with SASL PLAIN and the token as its password on a server
// whose hosts have mod_auth_token's plain = true; the same token is refused
// the second time; and on a server without plain the same stock client
// finds no mechanism it can use (so it never logged in with X-TOKEN).
func TestPlainSlixmpp(t *testing.T) {
	slixmpp.require(t)
	t.Parallel()
	s := startServerPlain(t, true)
	for _, host := range []string{fileHost, ramHost} {
		l := login{host: host, user: "alice", mint: s.cli(t, "alice@"+host), plain: true}
		token := expectLogin(t, slixmpp, s, l)

		l.mint, l.token = nil, token
		expectRefused(t, slixmpp, s, l) // used once: refused, with PLAIN too
	}

	without := startServer(t)
	code, events := slixmpp.loginOnce(t, without, login{host: fileHost, user: "bob", mint: without.cli(t, "bob@"+fileHost), plain: true})
	if _, bound := find(events, "bound"); code != 1 || bound {
		t.Errorf("stock slixmpp on a server without plain: exit %d, events %v; want exit 1 and no login", code, events)
	}
}
