package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// slixmppSM is slixmpp with its XEP-0198 plugin (clients/slixmpp_sm.py), reconnecting with a
// second token when its connection is lost.
var slixmppSM = &client{
	name: "slixmpp-xep0198",
	pkg:  slixmpp.pkg,
	command: func(args ...string) *exec.Cmd {
		return exec.Command(debianPython, append([]string{"clients/slixmpp_sm.py"}, withCA(args)...)...)
	},
}

// xmppjsSM is xmpp.js 0.14 with its stream management (clients/xmppjs_sm.mjs), reconnecting with
// a second token when its connection is lost.
var xmppjsSM = &client{
	name: "xmpp.js-sm",
	pkg:  xmppjs.pkg,
	command: func(args ...string) *exec.Cmd {
		cmd := exec.Command("node", append(nodeWebSocketFlag(), append([]string{"clients/xmppjs_sm.mjs"}, args...)...)...)
		cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certPath)
		return cmd
	},
}

// nodeWebSocketFlag is what node needs for a global WebSocket: Node 20 has it behind
// --experimental-websocket (xmppjs.check asks for 20.10 at least), later versions by default.
var nodeWebSocketFlag = sync.OnceValue(func() []string {
	if exec.Command("node", "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)").Run() == nil {
		return nil
	}
	return []string{"--experimental-websocket"}
})

// cutProxy forwards TCP connections to a server and can cut them all at once, as a network
// that drops a phone's connection would: no </stream:stream>, no FIN from the client's side.
// While cut, new connections wait unforwarded until restore.
type cutProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	open    []net.Conn
	cut     bool
	waiting chan struct{} // closed by restore
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, waiting: make(chan struct{})}
	t.Cleanup(func() {
		ln.Close()
		p.cutAll()
		p.restore()
	})
	go p.accept()
	return p
}

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	p.mu.Lock()
	wait := p.waiting
	cut := p.cut
	p.mu.Unlock()
	if cut {
		<-wait
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.open = append(p.open, c, s)
	p.mu.Unlock()
	go func() { io.Copy(s, c); s.Close() }()
	io.Copy(c, s)
	c.Close()
}

// cutAll resets every forwarded connection (RST: SO_LINGER 0) and holds new ones.
func (p *cutProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.open {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
	p.open = nil
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		p.cut = false
		close(p.waiting)
		p.waiting = make(chan struct{})
	}
}

// TestSlixmppStreamManagement: slixmpp's XEP-0198 plugin resumes its session after the TCP
// connection is cut; a message sent to it during the cut arrives once, after the resumption,
// to the same full JID, and what it got before the cut is not sent again.
func TestSlixmppStreamManagement(t *testing.T) {
	t.Parallel()
	slixmpp.require(t)
	resumeAfterCut(t, slixmppSM, false)
}

// TestXmppJSStreamManagement is TestSlixmppStreamManagement with xmpp.js 0.14 (over TCP with
// STARTTLS; slixmpp sends the messages).
func TestXmppJSStreamManagement(t *testing.T) {
	t.Parallel()
	xmppjs.require(t)
	slixmpp.require(t)
	resumeAfterCut(t, xmppjsSM, false)
}

// TestXmppJSStreamManagementWebSocket is TestXmppJSStreamManagement over a ws:// WebSocket: the
// proxy cuts the TCP connection under it (no close frame, no <close/>).
func TestXmppJSStreamManagementWebSocket(t *testing.T) {
	t.Parallel()
	xmppjs.require(t)
	slixmpp.require(t)
	resumeAfterCut(t, xmppjsSM, true)
}

// resumeAfterCut runs c as alice through a cutProxy (to the WebSocket listener with ws) and has
// another client send it a message before the cut and one during it: slixmpp, or with ws a
// plaintext login of the test's own (the server then offers SASL without TLS, as a ws://
// listener needs, and neither slixmpp nor xmpp.js starts TLS where it is optional).
func resumeAfterCut(t *testing.T, c *client, ws bool) {
	s := startServerWith(t, false, ws)
	target := s.addr
	if ws {
		target = s.wsAddr
	}
	proxy := startCutProxy(t, target)
	user := "alice@" + fileHost

	during := "sent during the cut " + randomBase32(t, 8)
	rl := login{host: fileHost, user: "alice", mint: s.cli(t, user), resource: "phone", addr: proxy.ln.Addr().String(),
		extra: []string{"--body", during, "--token2", s.mint(t, user).Token}}
	if ws {
		rl.extra = append(rl.extra, "--service", "ws://"+proxy.ln.Addr().String()+wsPath)
	}
	recv := c.start(t, s, rl)
	bound := recv.waitFor("bound")
	recv.waitFor("sm_enabled")

	before := "sent before the cut " + randomBase32(t, 8)
	sl := login{host: fileHost, user: "bob", mint: s.cli(t, "bob@"+fileHost), resource: "laptop", sendTo: bound.JID, body: before}
	send := func(body string) {
		t.Helper()
		sl.body = body
		if ws {
			plainSend(t, s, "bob", bound.JID, body)
			return
		}
		if code, ev := slixmpp.loginOnce(t, s, sl); code != 0 {
			t.Fatalf("sender (%s): exit %d, events %v", body, code, ev)
		}
	}
	send(before)
	if m := recv.waitFor("message"); m.Body != before {
		t.Fatalf("before the cut: got %v", m)
	}

	proxy.cutAll()
	recv.waitFor("cut")
	send(during)
	proxy.restore()

	resumed := recv.waitFor("resumed")
	if resumed.JID != bound.JID {
		t.Errorf("resumed as %q, bound as %q", resumed.JID, bound.JID)
	}
	code, events := recv.wait()
	if code != 0 {
		t.Fatalf("%s: exit %d, events %v\n%s", c.name, code, events, recv.stderr)
	}
	n, afterCut, sawResumed := 0, false, false
	for _, e := range events {
		switch {
		case e.Event == "cut":
			afterCut = true
		case e.Event == "resumed":
			sawResumed = true
		case e.Event == "session_start":
			t.Errorf("a new session instead of the resumed one: %v", events)
		case e.Event == "message" && e.Body == during:
			n++
		case e.Event == "message" && e.Body == before && afterCut:
			t.Errorf("the message acked before the cut came again: %v", events)
		}
	}
	if !sawResumed {
		t.Errorf("no resumption: %v", events)
	}
	if n != 1 {
		t.Errorf("the message sent during the cut arrived %d times, want once; events %v", n, events)
	}
}

// plainSend logs in as node@fileHost over plaintext TCP (the server must offer SASL there), sends
// a chat message to the full JID to and ends its stream.
func plainSend(t *testing.T, s *server, node, to, body string) {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(clientTimeout))
	header := fmt.Sprintf("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='%s'>", fileHost)
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + node + "\x00" + s.mint(t, node+"@"+fileHost).Token))
	fmt.Fprintf(conn, "%s<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>%s", header, resp, header)
	fmt.Fprintf(conn, "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
	var msg bytes.Buffer
	xml.EscapeText(&msg, []byte(body))
	fmt.Fprintf(conn, "<message type='chat' to='%s'><body>%s</body></message></stream:stream>", to, msg.String())
	got, _ := io.ReadAll(conn)
	if !bytes.Contains(got, []byte("<success")) || !bytes.Contains(got, []byte("type='result' id='b'")) {
		t.Fatalf("plain sender: %s", got)
	}
}
