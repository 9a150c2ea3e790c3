package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server/servertest"
)

// The wire cases over WebSocket: the same negotiation, limits and
// answers as over TCP, each seen on the wire by a raw RFC 7395 client.

// tryOpen sends <open/> and reports whether the server answered with its
// own <open/> (false: it closed the WebSocket without a word, as a refused
// connection is).
func (c *wsClient) tryOpen(host string) bool {
	c.t.Helper()
	c.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="` + host + `" version="1.0"/>`)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		return false
	}
	if !strings.HasPrefix(string(b), "<open ") {
		c.t.Fatalf("answer to <open/>: %q", b)
	}
	return true
}

// TestWebSocketTLS: with tls = true the listener is wss://, the stream is
// secure (SASL offered although require_starttls is on), and a login goes end
// to end; plaintext ws:// on it fails the handshake.
func TestWebSocketTLS(t *testing.T) {
	ts := startWS(t, servertest.Options{RequireStartTLS: true, Configure: func(c *config.Config) { c.WebSocket.TLS = true }})
	c, err := tryDialWS(t, ts, wsDial{tls: true})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	c.login(ts, "alice@localhost", "web")
	c.send(`<message xmlns="jabber:client" to="alice@localhost/web" id="m1"><body>over wss</body></message>`)
	if got := c.nextMatching(isMessage); got.find("body") == nil || got.find("body").Text != "over wss" {
		t.Errorf("echo to self: %s", got)
	}
	if _, err := tryDialWS(t, ts, wsDial{}); err == nil {
		t.Error("a plaintext ws:// handshake on the wss:// listener succeeded")
	}
}

// TestWebSocketRequireTLSBehindProxy: with require_starttls on, a ws://
// stream is offered SASL only when a trusted proxy says the client came over
// https; anything else is refused with policy-violation.
func TestWebSocketRequireTLSBehindProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []string
		proto   string // X-Forwarded-Proto, "" for none
		sasl    bool
	}{
		{name: "trusted proxy says https", proxies: []string{"127.0.0.1"}, proto: "https", sasl: true},
		{name: "trusted proxy says http", proxies: []string{"127.0.0.1"}, proto: "http"},
		{name: "trusted proxy says nothing", proxies: []string{"127.0.0.0/8"}},
		{name: "untrusted peer says https", proxies: []string{"10.0.0.0/8"}, proto: "https"},
		{name: "no proxies, peer says https", proto: "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startWS(t, servertest.Options{RequireStartTLS: true, Configure: func(c *config.Config) { c.WebSocket.TrustedProxies = tc.proxies }})
			h := http.Header{}
			if tc.proto != "" {
				h.Set("X-Forwarded-Proto", tc.proto)
			}
			c, err := tryDialWS(t, ts, wsDial{header: h})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.sasl {
				c.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`)
				c.expect("open")
				c.expectStreamError("policy-violation")
				return
			}
			c.login(ts, "bob@localhost", "web")
		})
	}
}

// TestWebSocketMaxStanzaSize: max_stanza_size bounds each message on its
// own: messages at the limit pass however many there are, one byte over is
// a policy-violation stream error, then <close/>.
func TestWebSocketMaxStanzaSize(t *testing.T) {
	const limit = 10000 // the smallest max_stanza_size allowed
	ts := startWS(t, servertest.Options{MaxStanzaSize: limit})
	message := func(size int) string { // a message to oneself of exactly size bytes
		head := `<message xmlns="jabber:client" to="carol@localhost/web" id="big"><body>`
		tail := `</body></message>`
		return head + strings.Repeat("x", size-len(head)-len(tail)) + tail
	}
	c := loginWS(t, ts, "carol@localhost", "web")
	for range 3 { // 30,000 bytes in all, none over the limit
		c.send(message(limit))
		if got := c.nextMatching(isMessage); got.attr("id") != "big" {
			t.Fatalf("got %s", got)
		}
	}
	c.send(message(limit + 1))
	c.expectStreamError("policy-violation")
}

// TestWebSocketNegotiationDeadline: a client that does not finish
// negotiating within the deadline gets connection-timeout, then <close/>,
// whether it said nothing at all or stopped after <open/>.
func TestWebSocketNegotiationDeadline(t *testing.T) {
	ts := startWS(t, servertest.Options{NegotiationTimeout: 300 * time.Millisecond})
	t.Run("after open", func(t *testing.T) {
		c := dialWS(t, ts)
		c.open("localhost")
		c.expectStreamError("connection-timeout")
	})
	t.Run("silent", func(t *testing.T) {
		c := dialWS(t, ts)
		c.expect("open") // the server's header, so that its error is well-formed
		c.expectStreamError("connection-timeout")
	})
	t.Run("a bound session is past the deadline", func(t *testing.T) {
		c := loginWS(t, ts, "dora@localhost", "web")
		time.Sleep(500 * time.Millisecond)
		c.send(`<message xmlns="jabber:client" to="dora@localhost/web" id="late"><body>still here</body></message>`)
		if got := c.nextMatching(isMessage); got.attr("id") != "late" {
			t.Errorf("got %s", got)
		}
	})
}

// TestWebSocketRateLimitThroughProxy: the per-address connection limit
// charges the client's address, which only a trusted proxy's
// X-Forwarded-For can name; an untrusted peer's header is ignored and its
// own address is charged.
func TestWebSocketRateLimitThroughProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []string
		second  bool // a second client address gets its own budget
	}{
		{name: "trusted proxy", proxies: []string{"127.0.0.1"}, second: true},
		{name: "untrusted peer", proxies: []string{"10.0.0.0/8"}, second: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startWS(t, servertest.Options{Configure: func(c *config.Config) {
				c.WebSocket.TrustedProxies = tc.proxies
				// One connection per address, no loopback exemption.
				c.Limits = config.LimitOptions{ConnectionsPerSecond: 0.001, ConnectionBurst: 1, Exempt: []string{}}
			}})
			from := func(ip string) *wsClient {
				c, err := tryDialWS(t, ts, wsDial{header: http.Header{"X-Forwarded-For": {ip}}})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			if !from("203.0.113.1").tryOpen("localhost") {
				t.Fatal("the first connection was refused")
			}
			if got := from("203.0.113.2").tryOpen("localhost"); got != tc.second {
				t.Errorf("a second client address: served %v, want %v", got, tc.second)
			}
			if from("203.0.113.1").tryOpen("localhost") {
				t.Error("the first address's second connection was served over the limit")
			}
			if tc.second {
				// The session's log lines name the client, not the proxy.
				from("203.0.113.3").login(ts, "jay@localhost", "web")
				if !strings.Contains(ts.Logs(), "remote=203.0.113.3") {
					t.Errorf("the log does not name the client's address:\n%s", ts.Logs())
				}
			}
		})
	}
}

// TestWebSocketConflict: a second session for the same full JID replaces the
// first, which ends with a conflict stream error and <close/>; it does so
// across transports too.
func TestWebSocketConflict(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	first := loginWS(t, ts, "erin@localhost", "web")
	second := loginWS(t, ts, "erin@localhost", "web")
	first.expectStreamError("conflict")
	second.send(`<message xmlns="jabber:client" to="erin@localhost/web" id="m"><body>mine now</body></message>`)
	if got := second.nextMatching(isMessage); got.attr("id") != "m" {
		t.Errorf("the new session got %s", got)
	}

	// Across transports: a WebSocket login for a TCP session's full JID
	// replaces it, and the TCP client gets the conflict.
	tc := login(t, ts, "erin@localhost", "", loginOpts{}) // the server picks the resource
	loginWS(t, ts, "erin@localhost", tc.jid.Resourcepart())
	if cond := tc.streamError(); cond != "conflict" {
		t.Errorf("the TCP session ended with %q, want conflict", cond)
	}
}

// TestWebSocketLoginLogsTransport: the login line says which transport the
// session came over.
func TestWebSocketLoginLogsTransport(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	loginWS(t, ts, "fay@localhost", "web")
	login(t, ts, "gus@localhost", "tcp", loginOpts{})
	logs := ts.Logs()
	for _, want := range []string{
		"transport=websocket user=fay result=success",
		"transport=tcp user=gus result=success",
	} {
		if !strings.Contains(logs, "msg=login") || !strings.Contains(logs, want) {
			t.Errorf("no login line with %q:\n%s", want, logs)
		}
	}
}

// TestWebSocketSessionsMetric: xtokend_sessions counts sessions by
// transport.
func TestWebSocketSessionsMetric(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	sessions := func(transport string) float64 {
		mfs, err := ts.Metrics().Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "xtokend_sessions" {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["host"] == "localhost" && labels["transport"] == transport {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("no xtokend_sessions{host=localhost,transport=%s}", transport)
		return 0
	}
	waitFor := func(transport string, want float64) {
		t.Helper()
		for deadline := time.Now().Add(waitLimit); sessions(transport) != want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("sessions{transport=%s} = %v, want %v", transport, sessions(transport), want)
			}
		}
	}
	w1 := loginWS(t, ts, "hal@localhost", "a")
	loginWS(t, ts, "hal@localhost", "b")
	login(t, ts, "ida@localhost", "tcp", loginOpts{})
	waitFor("websocket", 2)
	waitFor("tcp", 1)

	w1.send(`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`)
	w1.expect("close")
	w1.c.Close(ws.StatusNormalClosure, "")
	waitFor("websocket", 1)
	waitFor("tcp", 1)
}
