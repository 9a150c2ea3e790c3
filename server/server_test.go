package server_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/server/servertest"
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

func TestMintErrors(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	for _, tc := range []struct {
		jid  string
		want error
	}{
		{"localhost", server.ErrBadJID},
		{"alice@localhost/phone", server.ErrBadJID},
		{"a@b@c", server.ErrBadJID},
		{"", server.ErrBadJID},
		{"alice@example.org", server.ErrUnknownHost},
	} {
		t.Run(tc.jid, func(t *testing.T) {
			token, _, err := ts.Server.Mint(tc.jid)
			if !errors.Is(err, tc.want) || token != "" {
				t.Errorf("Mint(%q) = %q, %v; want %v", tc.jid, token, err, tc.want)
			}
		})
	}
	token, exp, err := ts.Server.Mint("Alice@LOCALHOST")
	if err != nil || token == "" || !exp.After(time.Now()) {
		t.Fatalf("Mint: %q %v %v", token, exp, err)
	}
	hosts := ts.Hosts()["localhost"]
	if len(hosts) != 2 || hosts[0].Name != "access_secret" || hosts[0].Size != 32 || hosts[1].Name != "otp_seed" || hosts[1].Size != 20 {
		t.Errorf("Hosts() = %+v", hosts)
	}
}

// Two servers (a second start) never share state: a token of one is refused by the other.
func TestServersIndependent(t *testing.T) {
	a := servertest.Start(t, servertest.Options{})
	b := servertest.Start(t, servertest.Options{})
	token := a.Mint(t, "alice@localhost")
	c := &rawClient{t: t, conn: rawDial(t, b, "localhost")}
	c.d = newDecoder(c.conn)
	c.expect("features")
	fmt.Fprintf(c.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>",
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+token)))
	if f := c.expect("failure"); f.find("not-authorized") == nil {
		t.Errorf("got %s", f)
	}
}
