package integration

import (
	"strings"
	"testing"
)

// TestBrowserConverseReconnect: the network drops the page's WebSocket (a proxy between
// Chromium and xtokend resets both TCP connections: no close frame, no <close/>), slixmpp on
// TCP sends alice a message while she is cut off, and Converse.js reconnects on its own: it
// fetches a fresh token from the application's credentials_url, logs in, resumes its stream
// (XEP-0198, on by default in Converse 14) under the same full JID, and shows the message,
// once.
func TestBrowserConverseReconnect(t *testing.T) {
	t.Parallel()
	skipShort(t)
	requireBrowser(t)
	slixmpp.require(t)
	bin := buildWebapp(t)
	var proxy *cutProxy
	s, app := startBrowserServersVia(t, bin, func(wsAddr string) string {
		proxy = startCutProxy(t, wsAddr)
		return proxy.ln.Addr().String()
	})
	alice, bob := "alice@"+fileHost, "bob@"+fileHost
	during := "sent during the cut " + randomBase32(t, 8)

	d := startDriver(t, app, s, app.wsURL, "alice", bob, "--reconnect", "--expect", during)
	online := d.waitFor("online")
	d.waitFor("chat_open")

	proxy.cutAll()
	d.waitFor("ws_closed")
	// The page is cut off: its new WebSocket waits in the proxy until restore.
	peer := slixmppPeer(during)
	sender := peer.start(t, s, login{host: fileHost, user: "bob", mint: s.cli(t, bob), resource: "desk", sendTo: online.JID, body: during})
	if code, events := sender.wait(); code != 0 {
		t.Fatalf("slixmpp sender: exit %d, events %v", code, events)
	}
	proxy.restore()

	rec := d.waitFor("reconnected")
	code, events := d.wait()
	if code != 0 {
		t.Fatalf("driver: exit %d; events %v\n%s", code, events, d.stderr)
	}
	if rec.Resumed == nil || !*rec.Resumed {
		t.Errorf("Converse did not resume its stream after the cut (a new session instead); events %v", events)
	}
	n := 0
	for _, e := range events {
		if e.Event == "credentials" {
			n++
			if e.JID != alice {
				t.Errorf("credentials for %q, want %q", e.JID, alice)
			}
		}
	}
	if n < 2 {
		t.Errorf("credentials fetched %d times, want a fresh token for the reconnection too; events %v", n, events)
	}
	e, ok := findBrowser(events, "received")
	switch {
	case !ok:
		t.Errorf("the page did not show the message sent during the cut; events %v", events)
	case e.Shown != 1 || e.Frames != 1:
		t.Errorf("the message sent during the cut was shown %d times and came in %d WebSocket frames, want once each", e.Shown, e.Frames)
	}
	if got := s.log.String(); !strings.Contains(got, "session resumed") {
		t.Errorf("the server logged no resumption\n%s", got)
	}
	if e, ok := findBrowser(events, "screenshot"); ok {
		t.Logf("screenshot: %s", e.Path)
	}
	app.stop(t)
	s.stop(t)
}
