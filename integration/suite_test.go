package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The tests drive each client through the same cases against a server of its own.

func TestSlixmpp(t *testing.T) { t.Parallel(); clientSuite(t, slixmpp) }
func TestXmppJS(t *testing.T)  { t.Parallel(); clientSuite(t, xmppjs) }
func TestAioxmpp(t *testing.T) { t.Parallel(); clientSuite(t, aioxmpp) }

// TestSendxmpp drives sendxmpp, which only sends: slixmpp receives its messages.
func TestSendxmpp(t *testing.T) { t.Parallel(); clientSuite(t, sendxmpp) }

// clientSuite runs every case for one client. The cases run in parallel; each uses users of its
// own, so no session of one case replaces another's.
func clientSuite(t *testing.T, c *client) {
	skipShort(t)
	c.require(t)
	receiver := c
	if c.sendOnly {
		receiver = slixmpp
		receiver.require(t)
	}
	s := startServer(t)

	t.Run("login/file-keys", func(t *testing.T) {
		t.Parallel()
		expectLogin(t, c, s, login{host: fileHost, user: "alice", mint: s.cli(t, "alice@"+fileHost)})
	})
	t.Run("login/ram-keys", func(t *testing.T) {
		t.Parallel()
		expectLogin(t, c, s, login{host: ramHost, user: "alice", mint: s.cli(t, "alice@"+ramHost)})
	})
	t.Run("login/prosody-minted", func(t *testing.T) {
		t.Parallel()
		// A token an issuer made with Prosody's token_secret and otp_seed logs in unchanged.
		expectLogin(t, c, s, login{host: fileHost, user: "dora", mint: s.prosody(t, "dora", 0)})
	})
	t.Run("message/same-host", func(t *testing.T) {
		t.Parallel()
		exchange(t, c, receiver, s, "bob@"+fileHost, "carl@"+fileHost)
	})
	t.Run("message/across-hosts", func(t *testing.T) {
		t.Parallel()
		exchange(t, c, receiver, s, "dan@"+ramHost, "erin@"+fileHost)
	})
	t.Run("refused/other-host", func(t *testing.T) {
		t.Parallel()
		// Each host logs in only with its own tokens, both ways.
		expectRefused(t, c, s, login{host: fileHost, user: "frank", mint: s.cli(t, "frank@"+ramHost)})
		expectRefused(t, c, s, login{host: ramHost, user: "frank", mint: s.cli(t, "frank@"+fileHost)})
	})
	t.Run("refused/other-user", func(t *testing.T) {
		t.Parallel()
		expectRefused(t, c, s, login{host: fileHost, user: "gina", mint: s.cli(t, "gino@"+fileHost)})
	})
	t.Run("refused/expired", func(t *testing.T) {
		t.Parallel()
		// Ten minutes is far outside otp_period 30 s with otp_skew 1.
		expectRefused(t, c, s, login{host: fileHost, user: "hank", mint: s.prosody(t, "hank", -10*time.Minute)})
		expectRefused(t, c, s, login{host: fileHost, user: "hank", mint: s.prosody(t, "hank", 10*time.Minute)})
	})
	t.Run("refused/unknown-host", func(t *testing.T) {
		t.Parallel()
		if c.sendOnly {
			t.Skipf("%s does not tell a stream error from other failures", c.name)
		}
		// The stream's 'to' is not served: host-unknown, before any TLS or SASL.
		code, events := c.loginOnce(t, s, login{host: "elsewhere.test", user: "lena", mint: s.cli(t, "lena@"+fileHost)})
		if e, ok := find(events, "stream_error"); code != 3 || !ok || e.Condition != "host-unknown" {
			t.Errorf("%s: exit %d, events %v; want exit 3 and stream_error host-unknown", c.name, code, events)
		}
	})
	t.Run("conflict", func(t *testing.T) {
		t.Parallel()
		if c.sendOnly {
			t.Skipf("%s does not stay connected", c.name)
		}
		// A second login to a bound full JID replaces the first session with a conflict error.
		first := login{host: ramHost, user: "mona", mint: s.cli(t, "mona@"+ramHost), resource: "desk", expectFrom: "nobody@" + ramHost}
		r := c.start(t, s, first)
		checkBound(t, c, first, r.waitFor("bound"))
		second := login{host: ramHost, user: "mona", mint: s.cli(t, "mona@"+ramHost), resource: "desk"}
		expectLogin(t, c, s, second)
		code, events := r.wait()
		if e, ok := find(events, "stream_error"); code != 3 || !ok || e.Condition != "conflict" {
			t.Errorf("%s: first session: exit %d, events %v; want exit 3 and stream_error conflict", c.name, code, events)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		t.Parallel()
		if c.sendOnly {
			t.Skipf("%s does not stay connected", c.name)
		}
		// A server of its own, stopped with clients on both hosts connected: each gets the
		// system-shutdown stream error (SPEC.md section 4) and reports it, and the server exits 0.
		own := startServer(t)
		var runs []*run
		for _, host := range []string{fileHost, ramHost} {
			l := login{host: host, user: "kate", mint: own.cli(t, "kate@"+host), expectFrom: "nobody@" + host}
			r := c.start(t, own, l)
			checkBound(t, c, l, r.waitFor("bound"))
			runs = append(runs, r)
		}
		own.stop(t)
		for _, r := range runs {
			code, events := r.wait()
			e, ok := find(events, "stream_error")
			if code != 3 || !ok || e.Condition != "system-shutdown" {
				t.Errorf("%s: exit %d, events %v; want exit 3 and stream_error system-shutdown", r.name, code, events)
			}
		}
	})
	t.Run("refused/replayed", func(t *testing.T) {
		t.Parallel()
		for _, host := range []string{fileHost, ramHost} {
			// The replay must be refused as a replay, not because the token has expired
			// meanwhile: on a machine too loaded to try both within the token's life, retry.
			for attempt := 1; ; attempt++ {
				var expires time.Time
				first := login{host: host, user: "ivan", mint: func() string {
					m := s.mint(t, "ivan@"+host)
					expires = m.ExpiresAt
					return m.Token
				}}
				token := expectLogin(t, c, s, first)
				expectRefused(t, c, s, login{host: host, user: "ivan", token: token})
				if time.Now().Before(expires) {
					break
				}
				if attempt == 3 {
					t.Fatalf("%s: three tokens expired before their replay was tried: machine too loaded", c.name)
				}
				t.Logf("%s: the token expired before its replay was tried; again", c.name)
			}
		}
	})
}

// expectLogin runs a client that must log in over TLS, bind a resource of the user and quit
// (a send-only client sends itself a message instead: it can only do that once logged in).
func expectLogin(t *testing.T, c *client, s *server, l login) (token string) {
	t.Helper()
	r := c.start(t, s, l)
	code, events := r.wait()
	want := "bound"
	if c.sendOnly {
		want = "sent"
	}
	e, ok := find(events, want)
	if code != 0 || !ok {
		t.Fatalf("%s: %s@%s did not log in: exit %d, events %v", c.name, l.user, l.host, code, events)
	}
	if !c.sendOnly {
		checkBound(t, c, l, e)
	}
	return r.login.token
}

func checkBound(t *testing.T, c *client, l login, bound event) {
	t.Helper()
	bare := l.user + "@" + l.host
	want := bare + "/"
	if l.resource != "" {
		want += l.resource
	}
	if !strings.HasPrefix(bound.JID, want) || len(bound.JID) == len(bare)+1 {
		t.Errorf("%s: bound JID %q, want %s<resource>", c.name, bound.JID, want)
	}
	if !bound.Secure {
		t.Errorf("%s: %s logged in on a stream that is not TLS", c.name, bare)
	}
}

// expectRefused runs a client whose login must fail with not-authorized: the client reports it
// and exits 1 on its own, well before its timeout (a hang ends as exit 3 with a timeout event).
func expectRefused(t *testing.T, c *client, s *server, l login) {
	t.Helper()
	code, events := c.loginOnce(t, s, l)
	failed, ok := find(events, "auth_failed")
	if _, bound := find(events, "bound"); bound {
		t.Fatalf("%s: %s@%s logged in with a token that must be refused; events %v", c.name, l.user, l.host, events)
	}
	if code != 1 || !ok || failed.Condition != "not-authorized" {
		t.Errorf("%s: %s@%s: exit %d, events %v; want exit 1 and auth_failed not-authorized", c.name, l.user, l.host, code, events)
	}
}

// exchange logs in a receiver with `to` on client rc, then a sender with `from` on client sc,
// which sends a directed presence (sendxmpp sends none) and a message; the receiver must get
// both, stamped by the server with the sender's full JID.
func exchange(t *testing.T, sc, rc *client, s *server, from, to string) {
	t.Helper()
	exchangeWith(t, sc, rc, s, from, to, false)
}

// exchangeWith is exchange; plain logs both clients in with their stock SASL
// PLAIN, the token as the password, instead of X-TOKEN.
func exchangeWith(t *testing.T, sc, rc *client, s *server, from, to string, plain bool) {
	t.Helper()
	toUser, toHost, _ := strings.Cut(to, "@")
	fromUser, fromHost, _ := strings.Cut(from, "@")

	rl := login{host: toHost, user: toUser, mint: s.cli(t, to), resource: "desk", expectFrom: from, plain: plain}
	recv := rc.start(t, s, rl)
	rbound := recv.waitFor("bound")
	checkBound(t, rc, rl, rbound)

	body := fmt.Sprintf("hello from %s over %s to %s", from, sc.name, rc.name)
	sl := login{host: fromHost, user: fromUser, mint: s.cli(t, from), resource: "laptop", sendTo: rbound.JID, body: body, plain: plain}
	code, sent := sc.loginOnce(t, s, sl)
	sbound, ok := find(sent, "bound")
	if sc.sendOnly {
		// It does not say where it is bound: the server grants the resource asked for. It asked
		// for STARTTLS (-t), and the server requires it before SASL anyway.
		sbound, ok = event{Event: "bound", JID: from + "/" + sl.resource, Secure: true}, true
	}
	if _, sentOK := find(sent, "sent"); code != 0 || !ok || !sentOK {
		t.Fatalf("%s: sender %s: exit %d, events %v", sc.name, from, code, sent)
	}
	checkBound(t, sc, sl, sbound)

	rcode, got := recv.wait()
	msg, ok := find(got, "message")
	if rcode != 0 || !ok {
		t.Fatalf("%s: receiver %s got no message from %s: exit %d, events %v", rc.name, rbound.JID, sbound.JID, rcode, got)
	}
	if msg.From != sbound.JID || msg.Body != body {
		t.Errorf("%s: message from %q body %q, want from %q body %q", rc.name, msg.From, msg.Body, sbound.JID, body)
	}
	if sc.sendOnly {
		return // it sends no presence
	}
	pres, ok := find(got, "presence")
	if !ok || pres.From != sbound.JID || pres.Type != "available" {
		t.Errorf("%s: want an available presence from %q before the message; events %v", rc.name, sbound.JID, got)
	}
}

// TestInterop sends messages between different stacks through one server, in a ring (each client
// sends to one other and receives from another), so that what they have in common is the server,
// not a library's habits.
func TestInterop(t *testing.T) {
	t.Parallel()
	skipShort(t)
	for _, c := range []*client{slixmpp, xmppjs, aioxmpp, sendxmpp} {
		c.require(t)
	}
	s := startServer(t)
	ring := [][2]*client{{slixmpp, xmppjs}, {xmppjs, aioxmpp}, {aioxmpp, slixmpp}, {sendxmpp, xmppjs}}
	for i, pair := range ring {
		sc, rc := pair[0], pair[1]
		t.Run(sc.name+"-to-"+rc.name, func(t *testing.T) {
			t.Parallel()
			exchange(t, sc, rc, s, fmt.Sprintf("s%d@%s", i, fileHost), fmt.Sprintf("r%d@%s", i, ramHost))
		})
	}
}

// skipShort skips the tests that start servers and clients under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: real clients and a real server; skipped in -short mode")
	}
}
