package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/server/adminclient"
)

// TestBrowserConverseReconnect: the network drops the page's WebSocket (a proxy between
// Chromium and xtokend resets both TCP connections: no close frame, no <close/>), slixmpp on
// TCP sends alice a message while she is cut off, and Converse.js reconnects on its own,
// fetching a fresh token from the application's credentials_url, and shows the message, once.
//
//   - resumed: the session waited; Converse resumes it (XEP-0198, on by default in Converse 14)
//     under the same full JID and gets the message as an unacked stanza.
//   - kicked: an administrator ended the detached session during the cut, so the message waited
//     in offline storage; Converse's resumption fails (item-not-found), it binds a new session,
//     and gets the message from storage.
func TestBrowserConverseReconnect(t *testing.T) {
	t.Parallel()
	skipShort(t)
	requireBrowser(t)
	slixmpp.require(t)
	bin := buildWebapp(t)
	for _, kicked := range []bool{false, true} {
		name := "resumed"
		if kicked {
			name = "kicked"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			converseReconnect(t, bin, kicked)
		})
	}
}

func converseReconnect(t *testing.T, bin string, kick bool) {
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
	to := online.JID
	if kick {
		s.waitAdminSocket(t)
		api := adminclient.New(s.socketPath)
		defer api.Close()
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if k, err := api.Kick(ctx, online.JID); err != nil {
			t.Fatalf("kick %s: %v (%+v)", online.JID, err, k)
		}
		to = alice // no such full JID any more: for storage, the bare JID
	}
	peer := slixmppPeer(during)
	sender := peer.start(t, s, login{host: fileHost, user: "bob", mint: s.cli(t, bob), resource: "desk", sendTo: to, body: during})
	if code, events := sender.wait(); code != 0 {
		t.Fatalf("slixmpp sender: exit %d, events %v", code, events)
	}
	proxy.restore()

	rec := d.waitFor("reconnected")
	code, events := d.wait()
	if code != 0 {
		t.Fatalf("driver: exit %d; events %v\n%s", code, events, d.stderr)
	}
	if rec.Resumed == nil || *rec.Resumed == kick {
		t.Errorf("after the cut Converse resumed: %v, want %v; events %v", rec.Resumed != nil && *rec.Resumed, !kick, events)
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
	want := "session resumed"
	if kick {
		want = "kicked"
	}
	if got := s.log.String(); !strings.Contains(got, want) {
		t.Errorf("the server did not log %q\n%s", want, got)
	}
	if e, ok := findBrowser(events, "screenshot"); ok {
		t.Logf("screenshot: %s", e.Path)
	}
	app.stop(t)
	s.stop(t)
}
