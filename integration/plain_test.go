package integration

import (
	"strings"
	"testing"
	"time"
)

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

// TestPlainSendxmpp: stock sendxmpp (its Authen::SASL without the X-TOKEN
// module) logs in with PLAIN, the token as its password, and delivers a
// message to stock slixmpp, logged in the same way, across hosts; its token
// is then refused a second time; and on a server without plain it cannot
// log in at all (so it never used X-TOKEN).
func TestPlainSendxmpp(t *testing.T) {
	skipShort(t)
	sendxmpp.require(t)
	slixmpp.require(t)
	t.Parallel()
	s := startServerPlain(t, true)
	exchangeWith(t, sendxmpp, slixmpp, s, "pat@"+fileHost, "quinn@"+ramHost, true)

	token := expectLogin(t, sendxmpp, s, login{host: ramHost, user: "rosa", mint: s.cli(t, "rosa@"+ramHost), plain: true})
	expectRefused(t, sendxmpp, s, login{host: ramHost, user: "rosa", token: token, plain: true})

	without := startServer(t)
	code, events := sendxmpp.loginOnce(t, without, login{host: fileHost, user: "sam", mint: without.cli(t, "sam@"+fileHost), plain: true})
	if _, sent := find(events, "sent"); code == 0 || sent {
		t.Errorf("stock sendxmpp on a server without plain: exit %d, events %v; want a failed login", code, events)
	}
}

// TestPlainXmppJS: stock xmpp.js (@xmpp/client with its @xmpp/sasl-plain,
// X-TOKEN not registered) logs in with the token as its password and
// exchanges messages both ways with stock slixmpp; on a server without plain
// it finds no mechanism it can use.
func TestPlainXmppJS(t *testing.T) {
	skipShort(t)
	xmppjs.require(t)
	slixmpp.require(t)
	t.Parallel()
	s := startServerPlain(t, true)
	t.Run("xmpp.js-to-slixmpp", func(t *testing.T) {
		t.Parallel()
		exchangeWith(t, xmppjs, slixmpp, s, "tess@"+fileHost, "uma@"+ramHost, true)
	})
	t.Run("slixmpp-to-xmpp.js", func(t *testing.T) {
		t.Parallel()
		exchangeWith(t, slixmpp, xmppjs, s, "vic@"+ramHost, "wes@"+fileHost, true)
	})
	t.Run("without-plain", func(t *testing.T) {
		t.Parallel()
		without := startServer(t)
		code, events := xmppjs.loginOnce(t, without, login{host: fileHost, user: "xena", mint: without.cli(t, "xena@"+fileHost), plain: true})
		// xmpp.js itself finds no mechanism it knows among those offered (X-TOKEN).
		failed, ok := find(events, "auth_failed")
		if _, bound := find(events, "bound"); code != 1 || bound || !ok || !strings.Contains(failed.Condition, "No compatible mechanism") {
			t.Errorf("stock xmpp.js on a server without plain: exit %d, events %v; want exit 1 and auth_failed: no compatible mechanism", code, events)
		}
	})
}

// TestPlainReplayAcrossMechanisms: a token that logged in once through one
// mechanism is refused through the other, with real clients each way.
func TestPlainReplayAcrossMechanisms(t *testing.T) {
	skipShort(t)
	for _, c := range []*client{slixmpp, xmppjs, sendxmpp} {
		c.require(t)
	}
	t.Parallel()
	s := startServerPlain(t, true)
	for _, tc := range []struct {
		name        string
		first       *client
		firstPlain  bool
		second      *client
		secondPlain bool
		host, user  string
	}{
		{"slixmpp-PLAIN-then-slixmpp-X-TOKEN", slixmpp, true, slixmpp, false, fileHost, "yara"},
		{"slixmpp-X-TOKEN-then-xmpp.js-PLAIN", slixmpp, false, xmppjs, true, ramHost, "zeke"},
		{"xmpp.js-PLAIN-then-sendxmpp-X-TOKEN", xmppjs, true, sendxmpp, false, fileHost, "abel"},
		{"sendxmpp-PLAIN-then-xmpp.js-X-TOKEN", sendxmpp, true, xmppjs, false, ramHost, "beth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Refused as a replay, not because the token expired meanwhile: on
			// a machine too loaded to try both within the token's life, retry.
			for attempt := 1; ; attempt++ {
				var expires time.Time
				mint := func() string {
					m := s.mint(t, tc.user+"@"+tc.host)
					expires = m.ExpiresAt
					return m.Token
				}
				token := expectLogin(t, tc.first, s, login{host: tc.host, user: tc.user, mint: mint, plain: tc.firstPlain})
				expectRefused(t, tc.second, s, login{host: tc.host, user: tc.user, token: token, plain: tc.secondPlain})
				if time.Now().Before(expires) {
					break
				}
				if attempt == 3 {
					t.Fatal("three tokens expired before their replay was tried: machine too loaded")
				}
				t.Log("the token expired before its replay was tried; again")
			}
		})
	}
}
