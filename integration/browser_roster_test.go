package integration

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/adminclient"
)

// TestBrowserConverseRoster: the application makes alice and bob contacts
// through the admin API; bob (a plain XMPP client on TCP) is online and
// sends alice a message while her page is closed. Converse.js, signing in
// afterwards, shows bob in its roster, online, and the message in the chat
// with him.
func TestBrowserConverseRoster(t *testing.T) {
	t.Parallel()
	skipShort(t)
	requireBrowser(t)
	bin := buildWebapp(t)
	s, app := startBrowserServers(t, bin)
	alice, bob := "alice@"+fileHost, "bob@"+fileHost

	s.waitAdminSocket(t)
	api := adminclient.New(s.socketPath)
	defer api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := api.PutRosterItem(ctx, alice, bob, adminclient.RosterItem{Name: "Bob", Groups: []string{"Friends"}, Subscription: "both"}); err != nil {
		t.Fatal(err)
	}

	body := "sent while the page was closed " + randomBase32(t, 8)
	conn := rawXMPP(t, s, "bob", s.cli(t, bob)())
	fmt.Fprintf(conn, "<presence/><message to='%s' type='chat' id='m1'><body>%s</body></message>", alice, body)

	d := startDriver(t, app, s, app.wsURL, "alice", "", "--contact", bob, "--expect", body)
	code, events := d.wait()
	if code != 0 {
		t.Fatalf("driver: exit %d; events %v\n%s", code, events, d.stderr)
	}
	if _, ok := findBrowser(events, "contact"); !ok {
		t.Errorf("the roster did not show bob online; events %v", events)
	}
	if e, ok := findBrowser(events, "received"); !ok || e.Body != body {
		t.Errorf("the page did not show the stored message; events %v", events)
	}
	if e, ok := findBrowser(events, "screenshot"); ok {
		t.Logf("screenshot: %s", e.Path)
	}
	app.stop(t)
	s.stop(t)
}

// rawXMPP logs in as user@fileHost on a server without STARTTLS (the
// browser tests' server) with X-TOKEN and binds, without an XMPP library;
// the connection stays open until the test ends.
func rawXMPP(t *testing.T, s *server, user, token string) net.Conn {
	t.Helper()
	s.addToken(token)
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(startTimeout))
	d := xml.NewDecoder(conn)
	until := func(local string) {
		t.Helper()
		for {
			tok, err := d.Token()
			if err != nil {
				t.Fatalf("raw login of %s: waiting for %s: %v", user, local, err)
			}
			if e, ok := tok.(xml.EndElement); ok && e.Name.Local == local {
				return
			}
			if e, ok := tok.(xml.StartElement); ok && e.Name.Local == "failure" {
				t.Fatalf("raw login of %s: SASL failure", user)
			}
		}
	}
	header := fmt.Sprintf("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='%s'>", fileHost)
	fmt.Fprint(conn, header)
	until("features")
	fmt.Fprintf(conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>",
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+token)))
	until("success")
	fmt.Fprint(conn, header)
	until("features")
	fmt.Fprint(conn, "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>")
	until("iq")
	conn.SetDeadline(time.Time{})
	// Drain what the server sends from now on, so that it never finds the
	// client not reading.
	go func() {
		for {
			if _, err := d.Token(); err != nil {
				return
			}
		}
	}()
	return conn
}
