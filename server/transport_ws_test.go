package server_test

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/server/servertest"
)

// wsClient is a raw RFC 7395 client: one element per message each way.
type wsClient struct {
	t testing.TB
	c *ws.Conn
}

// startWS starts a server with a [websocket] listener on 127.0.0.1:0.
func startWS(t *testing.T, opts servertest.Options) *servertest.Server {
	t.Helper()
	prev := opts.Configure
	opts.Configure = func(c *config.Config) {
		c.WebSocket.Listen = "127.0.0.1:0"
		if prev != nil {
			prev(c)
		}
	}
	return servertest.Start(t, opts)
}

func dialWS(t *testing.T, ts *servertest.Server) *wsClient {
	t.Helper()
	c, err := tryDialWS(t, ts, wsDial{})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

// wsDial says how to reach the endpoint: over TLS (wss://, trusting the
// test certificate), with extra request headers (a proxy's X-Forwarded-*).
type wsDial struct {
	tls    bool
	header http.Header
}

func tryDialWS(t *testing.T, ts *servertest.Server, o wsDial) (*wsClient, error) {
	t.Helper()
	var addr string
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(10 * time.Millisecond) {
		if a := ts.WebSocketAddr(); a != nil {
			addr = a.String()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the WebSocket listener did not start")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	url := "ws://" + addr + "/xmpp-websocket"
	opts := &ws.DialOptions{Subprotocols: []string{"xmpp"}, HTTPHeader: o.header}
	if o.tls {
		url = "wss://" + addr + "/xmpp-websocket"
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: ts.ClientTLS("localhost")}}
	}
	c, resp, err := ws.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "xmpp" {
		t.Fatalf("subprotocol %q, want xmpp", p)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}, nil
}

func (c *wsClient) send(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := c.c.Write(ctx, ws.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("send %s: %v", s, err)
	}
}

// next reads one message and parses it as one element.
func (c *wsClient) next() *elem {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	typ, b, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != ws.MessageText {
		c.t.Fatalf("a binary message: %q", b)
	}
	var e elem
	if err := xml.Unmarshal(b, &e); err != nil {
		c.t.Fatalf("message %q is not one element: %v", b, err)
	}
	return &e
}

func (c *wsClient) expect(local string) *elem {
	c.t.Helper()
	e := c.next()
	if e.XMLName.Local != local {
		c.t.Fatalf("got %s, want <%s>", e, local)
	}
	return e
}

// nextMatching skips messages (presence) until one matches.
func (c *wsClient) nextMatching(match func(*elem) bool) *elem {
	c.t.Helper()
	for {
		if e := c.next(); match(e) {
			return e
		}
	}
}

// expectStreamError reads a stream error and the <close/> after it.
func (c *wsClient) expectStreamError(cond string) {
	c.t.Helper()
	e := c.expect("error")
	if e.XMLName.Space != "http://etherx.jabber.org/streams" || len(e.Children) == 0 || e.Children[0].XMLName.Local != cond {
		c.t.Fatalf("got %s, want a %s stream error", e, cond)
	}
	if cl := c.expect("close"); cl.XMLName.Space != "urn:ietf:params:xml:ns:xmpp-framing" {
		c.t.Fatalf("got %s, want the framing <close/>", cl)
	}
}

func (c *wsClient) open(host string) *elem {
	c.t.Helper()
	c.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="` + host + `" version="1.0"/>`)
	if o := c.expect("open"); o.attr("from") != host || o.attr("id") == "" {
		c.t.Fatalf("server <open/> %s", o)
	}
	return c.expect("features")
}

// loginWS authenticates bare with a minted token and binds resource.
func loginWS(t *testing.T, ts *servertest.Server, bare, resource string) *wsClient {
	t.Helper()
	c := dialWS(t, ts)
	c.login(ts, bare, resource)
	return c
}

// login negotiates on a dialed client: X-TOKEN, the restart, bind.
func (c *wsClient) login(ts *servertest.Server, bare, resource string) {
	t := c.t
	t.Helper()
	c.authenticate(ts, bare)
	c.send(`<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>` + resource + `</resource></bind></iq>`)
	iq := c.expect("iq")
	if jid := iq.find("jid"); iq.attr("type") != "result" || jid == nil || jid.Text != bare+"/"+resource {
		t.Fatalf("bind answer %s", iq)
	}
}

// authenticate negotiates X-TOKEN and the restart, up to the features of
// the authenticated stream.
func (c *wsClient) authenticate(ts *servertest.Server, bare string) {
	t := c.t
	t.Helper()
	node, host, _ := strings.Cut(bare, "@")
	f := c.open(host)
	if f.find("starttls") != nil {
		t.Errorf("STARTTLS offered over WebSocket: %s", f)
	}
	mechs := f.find("mechanisms")
	if mechs == nil || !strings.Contains(mechs.String(), "X-TOKEN") {
		t.Fatalf("no X-TOKEN in %s", f)
	}
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + node + "\x00" + ts.Mint(t, bare)))
	c.send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="X-TOKEN">` + resp + `</auth>`)
	c.expect("success")
	if f := c.open(host); f.find("bind") == nil {
		t.Fatalf("no bind after the restart: %s", f)
	}
}

// TestWebSocketSession: a browser-like client logs in over WebSocket and
// exchanges messages with a TCP client, both ways.
func TestWebSocketSession(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	w := loginWS(t, ts, "alice@localhost", "web")
	tc := login(t, ts, "bob@localhost", "tcp", loginOpts{})

	bob := tc.jid.String() // the server chose the resource
	w.send(`<message xmlns="jabber:client" to="` + bob + `" type="chat" id="m1"><body>from the web</body></message>`)
	got := tc.nextMatching(func(e *elem) bool { return e.XMLName.Local == "message" })
	if b := got.find("body"); b == nil || b.Text != "from the web" || got.attr("from") != "alice@localhost/web" {
		t.Errorf("TCP client got %s", got)
	}

	tc.send(`<message to='alice@localhost/web' type='chat' id='m2'><body>from TCP</body></message>`)
	got = w.nextMatching(func(e *elem) bool { return e.XMLName.Local == "message" })
	if b := got.find("body"); b == nil || b.Text != "from TCP" || got.attr("from") != bob {
		t.Errorf("WebSocket client got %s", got)
	}
	if got.XMLName.Space != "jabber:client" {
		t.Errorf("a stanza over WebSocket must name its namespace: %s", got)
	}
	if !strings.Contains(ts.Logs(), "transport=websocket") {
		t.Errorf("no session start with transport=websocket in the log:\n%s", ts.Logs())
	}

	// The client's <close/> ends the stream: the server's <close/> answers.
	w.send(`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`)
	w.expect("close")
}

// TestWebSocketStreamErrors: what RFC 7395 does not allow, and a host not
// served, end the stream with the right stream error and then <close/>.
func TestWebSocketStreamErrors(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	t.Run("two elements in one message", func(t *testing.T) {
		c := loginWS(t, ts, "carol@localhost", "web")
		c.send(`<message xmlns="jabber:client" to="x@localhost"/><message xmlns="jabber:client" to="y@localhost"/>`)
		c.expectStreamError("not-well-formed")
	})
	t.Run("two elements during negotiation", func(t *testing.T) {
		c := dialWS(t, ts)
		c.open("localhost")
		c.send(`<a/><b/>`)
		c.expectStreamError("not-well-formed")
	})
	t.Run("host unknown", func(t *testing.T) {
		c := dialWS(t, ts)
		c.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="nowhere.example" version="1.0"/>`)
		c.expect("open")
		c.expectStreamError("host-unknown")
	})
}

// TestWebSocketRequireTLS: with require_starttls on, a ws:// stream (not
// secure, no STARTTLS) is refused rather than offered SASL.
func TestWebSocketRequireTLS(t *testing.T) {
	ts := startWS(t, servertest.Options{RequireStartTLS: true})
	c := dialWS(t, ts)
	c.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`)
	c.expect("open")
	c.expectStreamError("policy-violation")
}

// TestWebSocketShutdown: Shutdown ends a WebSocket session with a
// system-shutdown stream error and then <close/>, as it does a TCP one,
// an idle (parked) session too.
func TestWebSocketShutdown(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	c := loginWS(t, ts, "dave@localhost", "web")
	waitIdleSessions(t, ts, "websocket.(*Conn).waitIdle", 1)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	c.expectStreamError("system-shutdown")
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestWebSocketKickWhileParked: the server's close of an idle session's
// connection (here an administrator's kick) wakes it from the epoll set:
// the client gets the stream error, and the session leaves the set and the
// registry.
func TestWebSocketKickWhileParked(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	c := loginWS(t, ts, "erin@localhost", "web")
	waitIdleSessions(t, ts, "websocket.(*Conn).waitIdle", 1)
	if ended, err := ts.Kick(context.Background(), "erin@localhost/web"); err != nil || !ended {
		t.Fatalf("Kick = %t, %v", ended, err)
	}
	c.expectStreamError("policy-violation")
	testkit.Eventually(t, waitLimit, "the kicked session is still parked or bound", func() bool {
		return ts.ParkedSessions() == 0 && len(ts.Sessions()["localhost"]) == 0
	})
}
