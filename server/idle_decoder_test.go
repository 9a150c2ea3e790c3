package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server/servertest"
)

// An idle session lets go of its XML decoder and primes a fresh one with a
// replay of the client's stream header when the client sends again
// (streamReader.idle, wake). These tests check on the wire that the stream
// goes on as if nothing happened: the namespaces and the stream prefix the
// client declared, stanzas split across writes, whitespace keep-alives and
// the stanza deadline, line numbers in errors, TLS, WebSocket, and a
// resumed session (whose header is the new connection's).

// hdrPrefixed names the streams namespace "s" and declares two more
// prefixes that stanzas use after an idle wait.
const hdrPrefixed = "<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams' xmlns:c='jabber:client' xmlns:p='urn:xmpp:ping' version='1.0' to='localhost'>"

// idleStep is a write of an idle wire script, after the session waits idle
// in a fresh goroutine (idle) or after a pause.
type idleStep struct {
	send  string
	idle  bool
	pause time.Duration
}

func TestIdleDecoderWire(t *testing.T) {
	const stanzaTimeout = 200 * time.Millisecond
	ts := servertest.Start(t, servertest.Options{Configure: func(c *config.Config) {
		c.Limits.StanzaTimeout = cluster.Duration{Duration: stanzaTimeout}
	}})
	ping := "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
	prefixedLogin := hdrPrefixed + wAuth + hdrPrefixed + wBindR
	pong := "type='result' id='p1'"
	for _, tc := range []struct {
		name  string
		steps []idleStep
		want  []string
		cond  string
	}{
		{"a ping after idle", []idleStep{{send: wLogin + wBindR}, {send: ping, idle: true}, {send: wEnd, idle: true}},
			[]string{aBound, pong}, ""},
		{"prefixes of the header after idle", []idleStep{{send: prefixedLogin}, {send: "<c:iq type='get' id='p1'><p:ping/></c:iq>", idle: true}, {send: "</s:stream>", idle: true}},
			[]string{aBound, pong}, ""},
		{"the stream's end in another prefix after idle", []idleStep{{send: prefixedLogin}, {send: "</stream:stream>", idle: true}},
			[]string{aBound}, "not-well-formed"},
		{"a stanza split across writes after idle", []idleStep{{send: prefixedLogin},
			{send: "<c:iq type='get' ", idle: true}, {send: "id='p1'><p:pi", pause: 30 * time.Millisecond}, {send: "ng/></c:iq>", pause: 30 * time.Millisecond},
			{send: "</s:stream>", idle: true}},
			[]string{aBound, pong}, ""},
		{"a stanza split at its first byte after idle", []idleStep{{send: prefixedLogin}, {send: "<", idle: true}, {send: "c:iq type='get' id='p1'><p:ping/></c:iq></s:stream>", pause: 30 * time.Millisecond}},
			[]string{aBound, pong}, ""},
		{"half a stanza when the wait would start", []idleStep{{send: wLogin + wBindR + "<iq type='get' id='p1'>"}, {send: "<ping xmlns='urn:xmpp:ping'/></iq>", pause: stanzaTimeout / 4}, {send: wEnd, idle: true}},
			[]string{aBound, pong}, ""},
		{"keep-alives after idle, longer apart than the stanza deadline", []idleStep{{send: wLogin + wBindR}, {send: " ", idle: true}, {send: "\n", pause: 3 * stanzaTimeout}, {send: " " + ping, pause: 3 * stanzaTimeout}, {send: wEnd, idle: true}},
			[]string{aBound, pong}, ""},
		{"a burst after idle, over a read buffer", []idleStep{{send: wLogin + wBindR}, {send: strings.Repeat("<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>", 100) + ping, idle: true}, {send: wEnd, idle: true}},
			[]string{aBound, strings.Repeat("id='x'", 1), pong}, ""},
		{"the stanza deadline after idle", []idleStep{{send: wLogin + wBindR}, {send: "<iq type='get' id='p1'>", idle: true}},
			[]string{aBound}, "connection-timeout"},
		{"line numbers count from the stream's start", []idleStep{{send: wLogin + wBindR}, {send: "<message>\n<body>x</body>\n</message>", idle: true}, {send: "\n<iq type='get' id='x'>\n</message>", idle: true}},
			[]string{aBound, "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>XML syntax error on line 5: element &lt;iq&gt; closed by &lt;/message&gt;"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
			conn := rawDial(t, ts, "") // the steps send the header
			for _, s := range tc.steps {
				if s.idle {
					waitIdleSessions(t, ts, tcpWait, 1)
				}
				time.Sleep(s.pause)
				conn.Write([]byte(strings.ReplaceAll(s.send, "{TOKEN}", token)))
			}
			checkWireAnswer(t, strings.ReplaceAll(readAll(t, conn), `"`, "'"), tc.want, tc.cond)
		})
	}
}

// waitIdleSessions waits until n sessions wait for their client without a
// read loop's goroutine: parked in the server's epoll set (over TCP and
// over ws://), or where there is none in a fresh goroutine (whose stack has
// waitFrame); then it has the collector free their decoders.
func waitIdleSessions(t testing.TB, ts *servertest.Server, waitFrame string, n int) {
	t.Helper()
	var fresh, grown, parked int
	for end := time.Now().Add(waitLimit); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		fresh, grown = 0, 0
		buf := make([]byte, 1<<22)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			switch {
			case !strings.Contains(g, waitFrame):
			case strings.Contains(g, "(*session).waitThenRead"):
				fresh++
			case strings.Contains(g, "(*session).readLoop"):
				grown++
			}
		}
		parked = ts.ParkedSessions()
		idle := parked == n && fresh == 0 // parked, no goroutine of its own
		if !parksIdle {
			idle = fresh == n && parked == 0 // each in a fresh goroutine
		}
		if idle && grown == 0 {
			// The idle sessions' decoders are freed: the next stanza is
			// read by a fresh one, primed with the replayed header.
			runtime.GC()
			runtime.GC()
			return
		}
	}
	t.Fatalf("%d sessions parked, %d wait in a fresh goroutine, %d in a read loop's; want %d idle and none in a read loop's", parked, fresh, grown, n)
}

// parksIdle: idle TCP sessions park on the server's epoll set (Linux).
var parksIdle = runtime.GOOS == "linux"

// Under TLS: a session that logged in with declared prefixes reads, after
// idle waits, a stanza split across TLS records and its stream's end.
func TestIdleDecoderTLS(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	c := tlsLoginHeader(t, ts, "idletls", hdrPrefixed)
	for i, parts := range [][]string{
		{"<c:iq type='get' id='p0'><p:ping/></c:iq>"},
		{"<c:iq type='get' ", "id='p1'><p:pi", "ng/></c:iq>"},
	} {
		waitIdleSessions(t, ts, tcpWait, 1)
		for j, p := range parts {
			if j > 0 {
				time.Sleep(30 * time.Millisecond)
			}
			fmt.Fprint(c.conn, p) // a record each
		}
		if res := c.expect("iq"); res.attr("id") != fmt.Sprintf("p%d", i) || res.attr("type") != "result" {
			t.Fatalf("ping %d after idle: %s", i, res)
		}
	}
	waitIdleSessions(t, ts, tcpWait, 1)
	fmt.Fprint(c.conn, "</s:stream>")
	if rest := readAll(t, c.conn); strings.Contains(rest, "error") || !strings.Contains(rest, "</stream:stream>") {
		t.Fatalf("after </s:stream>: %q", rest)
	}
}

// A resumed session reads with the header of the connection that resumed
// it: here another prefix and declarations than the first connection's.
func TestIdleDecoderResumed(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Configure: smOptions(time.Minute, 100)})
	alice := rawLogin(t, ts, "alice", "localhost", "phone")
	id := alice.smEnable()
	fmt.Fprintf(alice.conn, wPing, 0)
	alice.expect("iq")
	waitIdleSessions(t, ts, tcpWait, 1)
	alice.conn.Close() // lost, not ended
	time.Sleep(100 * time.Millisecond)

	again := prefixAuthed(t, ts, "alice", strings.Replace(hdrPrefixed, "'localhost'", "'%s'", 1))
	fmt.Fprintf(again.conn, "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='1'/>", id)
	if e := again.next(); e.XMLName.Local != "resumed" {
		t.Fatalf("resume: %s", e)
	}
	waitIdleSessions(t, ts, tcpWait, 1)
	fmt.Fprint(again.conn, "<c:iq type='get' id='p1'><p:ping/></c:iq>")
	if e := again.expect("iq"); e.attr("id") != "p1" || e.attr("type") != "result" {
		t.Fatalf("ping after the resumption: %s", e)
	}
	waitIdleSessions(t, ts, tcpWait, 1)
	fmt.Fprint(again.conn, "<r xmlns='urn:xmpp:sm:3'/>")
	if e := again.expect("a"); e.attr("h") != "2" {
		t.Fatalf("a: %s, want h=2 (two pings)", e)
	}
	waitIdleSessions(t, ts, tcpWait, 1)
	fmt.Fprint(again.conn, "<a xmlns='urn:xmpp:sm:3' h='2'/></s:stream>")
	if rest := readAll(t, again.conn); strings.Contains(rest, "error") || !strings.Contains(rest, "</stream:stream>") {
		t.Fatalf("after </s:stream>: %q", rest)
	}
}

// Over WebSocket the session too parks on the raw socket (or waits for it
// in a fresh goroutine, websocket.Conn.waitIdle) holding no buffer, and
// after a ping frame goes back to that wait rather than reading on inside
// the Conn; the stanza after an idle wait and <close/> read as before.
func TestIdleDecoderWebSocket(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	w := loginWS(t, ts, "alice@localhost", "web")
	const wsWait = "websocket.(*Conn).waitIdle"
	for i := range 2 {
		waitIdleSessions(t, ts, wsWait, 1)
		w.send(fmt.Sprintf("<iq xmlns='jabber:client' type='get' id='p%d'><ping xmlns='urn:xmpp:ping'/></iq>", i))
		if res := w.expect("iq"); res.attr("id") != fmt.Sprintf("p%d", i) || res.attr("type") != "result" {
			t.Fatalf("ping %d after idle: %s", i, res)
		}
	}
	// A ping frame (coder/websocket reads its pong in a Read).
	waitIdleSessions(t, ts, wsWait, 1)
	read := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_, b, err := w.c.Read(ctx)
		if err != nil {
			read <- err.Error()
		}
		read <- string(b)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := w.c.Ping(ctx); err != nil {
		t.Fatalf("ping frame: %v", err)
	}
	waitIdleSessions(t, ts, wsWait, 1)
	w.send("<iq xmlns='jabber:client' type='get' id='p9'><ping xmlns='urn:xmpp:ping'/></iq>")
	if got := <-read; !strings.Contains(got, "id='p9'") && !strings.Contains(got, `id="p9"`) {
		t.Fatalf("after the ping frame: %s", got)
	}
	waitIdleSessions(t, ts, wsWait, 1)
	w.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
	if cl := w.expect("close"); cl.XMLName.Space != "urn:ietf:params:xml:ns:xmpp-framing" {
		t.Fatalf("got %s, want <close/>", cl)
	}
}
