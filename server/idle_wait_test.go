package server_test

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// TestIdleSessionParks: once a plaintext session has read and answered a
// stanza, it waits for the next one parked in the server's epoll set, with
// no goroutine of its own: not the one that decoded and routed the stanza
// (its stack grew, and a goroutine that grew keeps at least 4 KB while it
// waits), nor a fresh one (2 KB). And the session still works from there: a
// second ping is answered.
func TestIdleSessionParks(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	idlePings(t, ts, rawLogin(t, ts, "fresh", "localhost", "r"))
}

// TestIdleTLSSessionWaitsForTheSocket: under TLS too the session parks on
// the TCP socket (no goroutine waits inside crypto/tls's read, deep enough
// to grow a stack to 4 KB), and TLS still gets every byte: records that
// arrive together, and a stanza split across records.
func TestIdleTLSSessionWaitsForTheSocket(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	c := tlsLogin(t, ts, "freshtls")
	idlePings(t, ts, c)
	// Two stanzas in one write (one record), then one in two records.
	fmt.Fprintf(c.conn, "<iq type='get' id='a'><ping xmlns='urn:xmpp:ping'/></iq><iq type='get' id='b'><ping xmlns='urn:xmpp:ping'/></iq>")
	for _, id := range []string{"a", "b"} {
		if res := c.expect("iq"); res.attr("id") != id {
			t.Fatalf("want the answer to %s, got %s", id, res)
		}
	}
	fmt.Fprintf(c.conn, "<iq type='get' id='c'><ping xmlns=")
	time.Sleep(50 * time.Millisecond)
	fmt.Fprintf(c.conn, "'urn:xmpp:ping'/></iq>")
	if res := c.expect("iq"); res.attr("id") != "c" || res.attr("type") != "result" {
		t.Fatalf("split stanza: %s", res)
	}
	for end := time.Now().Add(waitLimit); ; {
		if inTLS := tlsWaiters(); inTLS == 0 {
			break
		} else if time.Now().After(end) {
			t.Fatalf("%d idle sessions wait inside crypto/tls", inTLS)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tlsLogin logs in over STARTTLS and binds a resource.
func tlsLogin(t testing.TB, ts *servertest.Server, node string) *rawClient {
	t.Helper()
	return tlsLoginHeader(t, ts, node, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='localhost'>")
}

// tlsLoginHeader is tlsLogin with the client's stream header after
// STARTTLS.
func tlsLoginHeader(t testing.TB, ts *servertest.Server, node, header string) *rawClient {
	t.Helper()
	c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	c.conn.SetDeadline(time.Now().Add(waitLimit))
	c.d = newDecoder(c.conn)
	c.expect("features")
	c.conn.Write([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
	c.expect("proceed")
	c.conn = tls.Client(c.conn, ts.ClientTLS("localhost"))
	c.d = newDecoder(c.conn)
	fmt.Fprint(c.conn, header)
	c.expect("features")
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + node + "\x00" + ts.Mint(t, node+"@localhost")))
	fmt.Fprintf(c.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>", resp)
	c.expect("success")
	fmt.Fprint(c.conn, header)
	c.expect("features")
	fmt.Fprint(c.conn, "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")
	if res := c.expect("iq"); res.attr("type") != "result" {
		t.Fatalf("bind: %s", res)
	}
	c.conn.SetDeadline(time.Time{})
	return c
}

// idlePings sends two pings, and after each checks that the session waits
// idle as it should (waitIdleSessions).
func idlePings(t *testing.T, ts *servertest.Server, c *rawClient) {
	t.Helper()
	for i := range 2 {
		fmt.Fprintf(c.conn, "<iq type='get' id='p%d'><ping xmlns='urn:xmpp:ping'/></iq>", i)
		if res := c.expect("iq"); res.attr("id") != fmt.Sprintf("p%d", i) || res.attr("type") != "result" {
			t.Fatalf("ping %d: %s", i, res)
		}
		waitIdleSessions(t, ts, tcpWait, 1)
	}
}

// tcpWait is in the stack of a goroutine waiting for a TCP client:
// (*tcpTransport).WaitReadable, or WaitSocket under TLS.
const tcpWait = "(*tcpTransport).Wait"

// tlsWaiters counts the sessions that wait for their client inside
// crypto/tls's read.
func tlsWaiters() (n int) {
	buf := make([]byte, 1<<22)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "(*tcpTransport).WaitReadable") && strings.Contains(g, "crypto/tls.(*Conn).Read") {
			n++
		}
	}
	return n
}
