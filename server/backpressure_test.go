package server_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/xtokend/xtokend/server/servertest"
)

// backpressureRuns is how many sessions each burst case is run on: the
// defect showed in about half of the runs with the default queue.
const backpressureRuns = 8

// A client's own burst slows its reading, it does not end its session
// (defect 1 of issue 19): 1,000 pings, or 1,000 messages to itself, in one
// write, from a client that reads all the while, are all answered, in order,
// and the stream then ends cleanly. With a queue of 4 every run used to end
// with resource-constraint "outbound queue full".
func TestOwnBurstIsAnswered(t *testing.T) {
	ping := func(jid string, i int) string {
		return fmt.Sprintf("<iq type='get' id='b%d' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", i)
	}
	toSelf := func(jid string, i int) string {
		return fmt.Sprintf("<message to='%s' id='b%d'><body>%d</body></message>", jid, i, i)
	}
	toBare := func(jid string, i int) string {
		bare, _, _ := strings.Cut(jid, "/")
		return fmt.Sprintf("<message to='%s' id='b%d'><body>%d</body></message>", bare, i, i)
	}
	for _, tc := range []struct {
		name      string
		queueSize int // 0: the default
		n         int
		stanza    func(jid string, i int) string
		presence  bool // send initial presence first (a bare JID delivers to available resources)
	}{
		{"1000 pings", 0, 1000, ping, false},
		{"500 pings", 0, 500, ping, false},
		{"1000 messages to itself", 0, 1000, toSelf, false},
		{"1000 messages to its bare JID", 0, 1000, toBare, true},
		{"1000 pings, queue of 4", 4, 1000, ping, false},
		{"1000 messages to itself, queue of 4", 4, 1000, toSelf, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := servertest.Start(t, servertest.Options{QueueSize: tc.queueSize})
			for run := range backpressureRuns {
				// A user per run: the last run's session may still be
				// leaving when this one starts.
				c := rawLogin(t, ts, fmt.Sprintf("burst%d", run), "localhost", "r")
				if tc.presence {
					fmt.Fprintf(c.conn, "<presence/>")
					c.expect("presence") // its own, broadcast back
				}
				var burst strings.Builder
				for i := range tc.n {
					burst.WriteString(tc.stanza(c.jid, i))
				}
				wrote := make(chan error, 1)
				go func() {
					_, err := io.WriteString(c.conn, burst.String())
					wrote <- err
				}()
				for i := range tc.n {
					e := c.next()
					if e.XMLName.Local == "error" || e.attr("id") != fmt.Sprintf("b%d", i) || e.attr("type") == "error" {
						t.Fatalf("run %d: answer %d of %d: got %s, want b%d", run, i, tc.n, e, i)
					}
				}
				if err := <-wrote; err != nil {
					t.Fatalf("run %d: write: %v", run, err)
				}
				expectCleanEnd(t, c)
			}
			if strings.Contains(ts.Logs(), "outbound queue full") {
				t.Errorf("a session ended with a full queue:\n%s", ts.Logs())
			}
		})
	}
}

// expectCleanEnd sends the stream's end and reads the rest of the stream:
// the server's </stream:stream>, no stream error, nothing else.
func expectCleanEnd(t *testing.T, c *rawClient) {
	t.Helper()
	fmt.Fprint(c.conn, "</stream:stream>")
	for {
		tok, err := c.d.Token()
		if err != nil {
			t.Fatalf("before the stream's end: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			t.Fatalf("after </stream:stream>: got <%s xmlns='%s'>, want the stream's end", tok.Name.Local, tok.Name.Space)
		case xml.EndElement:
			if tok.Name.Local == "stream" { // the decoder saw the client's first header too: it stops here
				if rest := readAll(t, c.conn); rest != "" {
					t.Fatalf("after </stream:stream>: %q", rest)
				}
				return
			}
		}
	}
}

// What a client sends in the same write as its </stream:stream> is answered
// before the server's </stream:stream> (RFC 6120 section 4.4): the answers
// queued when the stream ended used to be dropped.
func TestAnsweredBeforeStreamEnd(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	for _, n := range []int{1, 100} {
		for run := range 10 {
			c := rawLogin(t, ts, "closer", "localhost", fmt.Sprintf("r%d-%d", n, run))
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, "<iq type='get' id='p%d' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", i)
			}
			b.WriteString("</stream:stream>")
			io.WriteString(c.conn, b.String())
			got := readAll(t, c.conn)
			for i := range n {
				pong := fmt.Sprintf("id='p%d'", i)
				at := strings.Index(got, pong)
				if at < 0 || !strings.Contains(got[at:], "</stream:stream>") {
					t.Fatalf("%d pings, run %d: pong %d missing or after the stream's end: %q", n, run, i, got)
				}
			}
			if !strings.HasSuffix(got, "</stream:stream>") || strings.Contains(got, "stream:error") {
				t.Fatalf("%d pings, run %d: the stream did not end cleanly: %q", n, run, got)
			}
		}
	}
}

// The same over WebSocket: the transport inherits the session's queue.
func TestOwnBurstIsAnsweredWebSocket(t *testing.T) {
	ts := startWS(t, servertest.Options{QueueSize: 4})
	const n = 1000
	for run := range 3 {
		c := loginWS(t, ts, fmt.Sprintf("webburst%d@localhost", run), "r")
		wrote := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			for i := range n {
				ping := fmt.Sprintf(`<iq xmlns="jabber:client" type="get" id="b%d" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`, i)
				if err := c.c.Write(ctx, ws.MessageText, []byte(ping)); err != nil {
					wrote <- err
					return
				}
			}
			// What comes with the stream's end is answered before it.
			wrote <- c.c.Write(ctx, ws.MessageText, []byte(`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`))
		}()
		for i := range n {
			if e := c.next(); e.attr("id") != fmt.Sprintf("b%d", i) || e.attr("type") != "result" {
				t.Fatalf("run %d: answer %d: got %s, want the result of b%d", run, i, e, i)
			}
		}
		if err := <-wrote; err != nil {
			t.Fatalf("run %d: write: %v", run, err)
		}
		c.expect("close")
	}
	if strings.Contains(ts.Logs(), "outbound queue full") {
		t.Errorf("a session ended with a full queue:\n%s", ts.Logs())
	}
}

// Only others' stanzas count against a client that does not read: once the
// queue holds QueueSize of them it is cut off with resource-constraint, and
// its sender is never slowed (its own pings are answered all the while).
// The queue fills within a few of the sender's round trips once the
// connection's buffers are full, long before the write timeout (which then
// closes the connection: a writer blocked on a client that does not read
// gives up only at its deadline).
func TestNonReaderCutOff(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{QueueSize: 8, WriteTimeout: 2 * time.Second})
	slow := login(t, ts, "slow@localhost", "", loginOpts{noRead: true})
	alice := login(t, ts, "alice@localhost", "", loginOpts{})
	big := strings.Repeat("z", 60000)
	deadline := time.Now().Add(waitLimit)
	for i := 0; slices.Contains(ts.Sessions()["localhost"], slow.jid.String()); i++ {
		if time.Now().After(deadline) {
			t.Fatal("the non-reading client is still connected")
		}
		alice.send("<message to='%s' id='f%d'><body>%s</body></message>", slow.jid, i, big)
		if e := alice.ping(fmt.Sprintf("p%d", i)); e.attr("type") != "result" {
			t.Fatalf("the sender's ping %d: %s", i, e)
		}
		if i >= 300 {
			// Past what the connection's buffers hold (18 MB): the session
			// is cut and waits for its writer's deadline; flood no more.
			time.Sleep(10 * time.Millisecond)
		}
	}
	var end string
	for _, line := range strings.Split(ts.Logs(), "\n") {
		if strings.Contains(line, "session end") && strings.Contains(line, slow.jid.String()) {
			end = line
		}
	}
	if !strings.Contains(end, "resource-constraint: outbound queue full") {
		t.Errorf("the non-reading client's session end: %q, want resource-constraint: outbound queue full", end)
	}
}

// A client that sends a burst and never reads is not kept for ever by the
// wait for room: the writer's deadline ends the session (write timeout),
// and with it the read loop's wait.
func TestOwnBurstNeverRead(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{WriteTimeout: 500 * time.Millisecond})
	c := rawLogin(t, ts, "deaf", "localhost", "r")
	// 10,000 pings with 1 KB ids: 11 MB of answers, more than the
	// connection's buffers hold.
	id := strings.Repeat("i", 1000)
	var burst strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&burst, "<iq type='get' id='%s%d' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", id, i)
	}
	go io.WriteString(c.conn, burst.String()) // fails once the server gives up
	waitFor(t, func() bool { return !slices.Contains(ts.Sessions()["localhost"], c.jid) })
	var end string
	for _, line := range strings.Split(ts.Logs(), "\n") {
		if strings.Contains(line, "session end") && strings.Contains(line, c.jid) {
			end = line
		}
	}
	if !strings.Contains(end, "write failed: timeout") {
		t.Errorf("session end %q, want write failed: timeout", end)
	}
}
