package server_test

import (
	"strings"
	"testing"

	"xtokend/server/servertest"
)

func TestLoginPingDisco(t *testing.T) {
	for _, tc := range []struct {
		name     string
		startTLS bool
	}{
		{"plaintext", false},
		{"starttls", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := servertest.Start(t, servertest.Options{RequireStartTLS: tc.startTLS})
			c := login(t, ts, "Alice@localhost", "", loginOpts{startTLS: tc.startTLS})
			if got := c.jid.Bare().String(); got != "alice@localhost" {
				t.Errorf("bound %s, want alice@localhost/...", c.jid)
			}
			if c.jid.Resourcepart() == "" {
				t.Errorf("bound %s without a resource", c.jid)
			}
			if tc.startTLS && !c.xs.ConnectionState().HandshakeComplete {
				t.Errorf("no TLS after STARTTLS")
			}

			pong := c.ping("p1")
			if pong.attr("type") != "result" || pong.attr("from") != "localhost" || pong.attr("to") != c.jid.String() {
				t.Errorf("ping answer: %s", pong)
			}

			c.send(`<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
			disco := c.next()
			id := disco.find("identity")
			if disco.attr("type") != "result" || id == nil || id.attr("category") != "server" || id.attr("type") != "im" {
				t.Fatalf("disco#info answer: %s", disco)
			}
			var features []string
			for _, f := range disco.find("query").Children {
				if f.XMLName.Local == "feature" {
					features = append(features, f.attr("var"))
				}
			}
			if want := "http://jabber.org/protocol/disco#info urn:xmpp:ping"; strings.Join(features, " ") != want {
				t.Errorf("features %v, want %s", features, want)
			}

			// Any other IQ to the server: service-unavailable.
			c.send(`<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>`)
			e := c.next()
			if e.attr("type") != "error" || e.find("service-unavailable") == nil || e.attr("id") != "v1" {
				t.Errorf("unknown IQ answer: %s", e)
			}

			sessions := ts.Sessions()["localhost"]
			if len(sessions) != 1 || sessions[0] != c.jid.String() {
				t.Errorf("Sessions() = %v", sessions)
			}
			c.close()
		})
	}
}
