package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// xmppjsFAST is xmpp.js 0.14 logging in over SASL2 with Bind2, then with FAST tokens only
// (clients/xmppjs_fast.mjs).
var xmppjsFAST = &client{
	name: "xmpp.js-fast",
	pkg:  xmppjs.pkg,
	command: func(args ...string) *exec.Cmd {
		cmd := exec.Command("node", append(nodeWebSocketFlag(), append([]string{"clients/xmppjs_fast.mjs"}, args...)...)...)
		cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certPath)
		return cmd
	},
}

// TestXmppJSFAST: xmpp.js logs in with X-TOKEN over SASL2, binds with Bind2 and gets a FAST
// token in the same round trip; then two new clients log in with the FAST token alone (their
// X-TOKEN credential throws, and the one X-TOKEN minted was used by the first login), each
// getting the next token of the rotation. Over TCP with STARTTLS.
func TestXmppJSFAST(t *testing.T) {
	t.Parallel()
	xmppjs.require(t)
	fastLogins(t, false)
}

// TestXmppJSFASTWebSocket is TestXmppJSFAST over a ws:// WebSocket.
func TestXmppJSFASTWebSocket(t *testing.T) {
	t.Parallel()
	xmppjs.require(t)
	fastLogins(t, true)
}

func fastLogins(t *testing.T, ws bool) {
	s := startServerWith(t, false, ws)
	user := "alice@" + fileHost
	l := login{host: fileHost, user: "alice", mint: s.cli(t, user), extra: []string{"--logins", "3"}}
	if ws {
		l.extra = append(l.extra, "--service", "ws://"+s.wsAddr+wsPath)
	}
	code, events := xmppjsFAST.loginOnce(t, s, l)
	if code != 0 {
		t.Fatalf("exit %d, events %v", code, events)
	}
	var bound, tokens []event
	for _, e := range events {
		switch e.Event {
		case "bound":
			bound = append(bound, e)
		case "fast_token":
			tokens = append(tokens, e)
		}
	}
	if len(bound) != 3 || bound[0].Type != "X-TOKEN" || bound[1].Type != "HT-SHA-256-NONE" || bound[2].Type != "HT-SHA-256-NONE" {
		t.Fatalf("want an X-TOKEN login then two FAST ones; events %v", events)
	}
	for _, b := range bound {
		// Bind2: the resource starts with xmpp.js's tag.
		if !strings.HasPrefix(b.JID, user+"/fast.") {
			t.Errorf("bound as %q, want %s/fast.<...>", b.JID, user)
		}
		if !ws && !b.Secure {
			t.Errorf("login %s not on TLS", b.Body)
		}
	}
	// A token from each login: asked for in the first, the rotation's next in the others.
	if len(tokens) != 3 || tokens[0].Body != "1" || tokens[1].Body != "2" || tokens[2].Body != "3" {
		t.Errorf("want a FAST token from each login; events %v", events)
	}
	logs := s.log.String()
	if strings.Count(logs, "result=success") < 3 {
		t.Errorf("the server logged fewer than 3 logins:\n%s", logs)
	}
}
