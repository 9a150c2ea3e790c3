package server_test

import (
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"
	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server/servertest"
	"github.com/xtokend/xtokend/storage"
)

// Stream management (XEP-0198) on the wire.
const (
	smNS       = "urn:xmpp:sm:3"
	wEnable    = "<enable xmlns='urn:xmpp:sm:3'/>"
	wEnableRes = "<enable xmlns='urn:xmpp:sm:3' resume='true'/>"
	wR         = "<r xmlns='urn:xmpp:sm:3'/>"
	wPing      = "<iq type='get' id='p%d' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
	aSMFeat    = "<sm xmlns='urn:xmpp:sm:3'/>"
	aUnexp     = "<failed xmlns='urn:xmpp:sm:3'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>"
)

func pings(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, wPing, i)
	}
	return b.String()
}

// TestSMWire: each script is sent at once after the stream header; the
// answer must hold want in order, and end with the stream error cond ("" for
// a clean end).
func TestSMWire(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	bound := wLogin + wBindR
	for _, tc := range []struct {
		name    string
		send    string
		want    []string
		notWant []string
		wantRe  string // a regular expression the answer must match
		cond    string
	}{
		{name: "feature after authentication only", send: wLogin + wEnd,
			want: []string{aMechs, aSuccess, aBindFeat, aSMFeat}},
		{name: "enable before authentication", send: wHeader + wEnable + wEnd, want: []string{aMechs, aUnexp}},
		{name: "resume before authentication", send: wHeader + "<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>" + wEnd, want: []string{aMechs, aUnexp}},
		{name: "enable before bind, then bind", send: wLogin + wEnable + wBindR + wEnd, want: []string{aSMFeat, aUnexp, aBound}},
		{name: "r before bind", send: wLogin + wR + wBindR + wEnd, want: []string{aUnexp, aBound}},
		{name: "enable", send: bound + wEnable + wEnd, want: []string{aBound, "<enabled xmlns='urn:xmpp:sm:3'/>"}, notWant: []string{"resume="}},
		{name: "enable with resume", send: bound + wEnableRes + wEnd,
			wantRe: `<enabled xmlns='urn:xmpp:sm:3' id='[0-9a-f]{32}' resume='true' max='300'/>`},
		{name: "enable with resume='1'", send: bound + "<enable xmlns='urn:xmpp:sm:3' resume='1'/>" + wEnd, wantRe: `resume='true' max='300'`},
		{name: "enable twice", send: bound + wEnable + wEnable + wEnd, want: []string{"<enabled", aUnexp}},
		{name: "r before enable", send: bound + wR + wEnd, want: []string{aBound, aUnexp}},
		{name: "a before enable", send: bound + "<a xmlns='urn:xmpp:sm:3' h='0'/>" + wEnd, want: []string{aBound, aUnexp}},
		{name: "r counts nothing yet", send: bound + wEnable + wR + wEnd, want: []string{"<enabled", "<a xmlns='urn:xmpp:sm:3' h='0'/>"}},
		{name: "r counts handled stanzas", send: bound + wEnable + pings(2) + wR + wEnd,
			want: []string{"<enabled", "id='p0'", "id='p1'", "<a xmlns='urn:xmpp:sm:3' h='2'/>"}},
		{name: "stanzas before enable do not count", send: bound + pings(1) + wEnable + wR + wEnd, want: []string{"id='p0'", "<enabled", "h='0'"}},
		{name: "server asks every 5 stanzas", send: bound + wEnable + pings(5) + wEnd,
			want: []string{"<enabled", "id='p0'", "id='p4'", "<r xmlns='urn:xmpp:sm:3'/>"}},
		{name: "no ask before 5", send: bound + wEnable + pings(4) + wEnd, want: []string{"id='p3'"}, notWant: []string{"<r xmlns"}},
		{name: "a acks what was sent", send: bound + wEnable + pings(2) + "<a xmlns='urn:xmpp:sm:3' h='2'/>" + wR + wEnd, want: []string{"id='p1'", "h='2'"}},
		{name: "a too high", send: bound + wEnable + pings(1) + "<a xmlns='urn:xmpp:sm:3' h='2'/>", want: []string{"id='p0'"}, cond: "undefined-condition"},
		{name: "a without h", send: bound + wEnable + "<a xmlns='urn:xmpp:sm:3'/>" + wEnd, want: []string{"<enabled", "<failed xmlns='urn:xmpp:sm:3'><bad-request"}},
		{name: "a with a bad h", send: bound + wEnable + "<a xmlns='urn:xmpp:sm:3' h='-1'/>" + wEnd, want: []string{"<failed xmlns='urn:xmpp:sm:3'><bad-request"}},
		{name: "resume on a bound stream", send: bound + "<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>" + wEnd, want: []string{aBound, aUnexp}},
		{name: "unknown element", send: bound + "<ack xmlns='urn:xmpp:sm:3'/>", want: []string{aBound}, cond: "unsupported-stanza-type"},
		{name: "unknown element before bind", send: wLogin + "<ack xmlns='urn:xmpp:sm:3'/>", want: []string{aSMFeat}, cond: "unsupported-stanza-type"},
		{name: "resume unknown id, then bind", send: wLogin + "<resume xmlns='urn:xmpp:sm:3' previd='0123456789abcdef0123456789abcdef' h='0'/>" + wBindR + wEnd,
			want: []string{"<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>", aBound}},
		{name: "resume without previd", send: wLogin + "<resume xmlns='urn:xmpp:sm:3' h='0'/>" + wEnd, want: []string{"<failed xmlns='urn:xmpp:sm:3'><bad-request"}},
		{name: "resume without h", send: wLogin + "<resume xmlns='urn:xmpp:sm:3' previd='x'/>" + wEnd, want: []string{"<failed xmlns='urn:xmpp:sm:3'><bad-request"}},
		{name: "comment inside", send: bound + "<r xmlns='urn:xmpp:sm:3'><!-- x --></r>", want: []string{aBound}, cond: "restricted-xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
			conn, err := net.Dial("tcp", ts.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(waitLimit))
			if _, err := conn.Write([]byte(strings.ReplaceAll(tc.send, "{TOKEN}", token))); err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(readAll(t, conn), `"`, "'")
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("no %q (in this order) in the answer %q", w, got)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%q in the answer %q", w, got)
				}
			}
			if tc.wantRe != "" && !regexp.MustCompile(tc.wantRe).MatchString(got) {
				t.Errorf("the answer %q does not match %s", got, tc.wantRe)
			}
			cond := ""
			if m := wireCond.FindStringSubmatch(rest); m != nil {
				cond = m[1]
			}
			if cond != tc.cond {
				t.Errorf("ended with %q, want %q; answer %q", cond, tc.cond, got)
			}
		})
	}
}

// smOptions sets mod_stream_management for every host.
func smOptions(timeout time.Duration, maxUnacked int) func(*config.Config) {
	return func(c *config.Config) {
		c.Modules.StreamManagement = &config.StreamManagementOptions{
			ResumeTimeout: cluster.Duration{Duration: timeout},
			MaxUnacked:    maxUnacked,
		}
	}
}

// smEnable enables resumable stream management on c and returns the id.
func (c *rawClient) smEnable() string {
	c.t.Helper()
	fmt.Fprint(c.conn, wEnableRes)
	e := c.expect("enabled")
	if e.attr("resume") != "true" || len(e.attr("id")) != 32 {
		c.t.Fatalf("enabled: %s", e)
	}
	return e.attr("id")
}

// smResume authenticates a new connection as node and resumes id, having
// handled h stanzas: the server's answer (resumed or failed).
func smResume(t *testing.T, ts *servertest.Server, node, id string, h int) (*rawClient, *elem) {
	t.Helper()
	c := rawAuthed(t, ts, node, "localhost")
	fmt.Fprintf(c.conn, "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='%d'/>", id, h)
	return c, c.next()
}

// sendTo sends a chat message and, with a ping after it, waits until the
// server routed it.
func (c *rawClient) chat(to, id string) {
	c.t.Helper()
	fmt.Fprintf(c.conn, "<message type='chat' to='%s' id='%s'><body>%s</body></message>", to, id, id)
	fmt.Fprintf(c.conn, wPing, 99)
	for c.next().attr("id") != "p99" {
	}
}

// TestSMResume: a resumable session whose connection dies stays bound; a
// new connection of the same user resumes it, gets what it had not acked
// and what came meanwhile, once, under the same full JID, and nobody sees
// its presence change.
func TestSMResume(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Configure: smOptions(time.Minute, 100)})
	alice := rawLogin(t, ts, "alice", "localhost", "phone")
	watcher := rawLogin(t, ts, "alice", "localhost", "desk")
	bob := rawLogin(t, ts, "bob", "localhost", "r")
	id := alice.smEnable()
	fmt.Fprint(watcher.conn, "<presence/>")
	watcher.expect("presence")
	fmt.Fprint(alice.conn, "<presence/>")
	alice.expect("presence")   // its own
	alice.expect("presence")   // desk's
	watcher.expect("presence") // phone's
	fmt.Fprint(alice.conn, "<a xmlns='urn:xmpp:sm:3' h='2'/>")

	bob.chat(alice.jid, "m1")
	if e := alice.expect("message"); e.attr("id") != "m1" {
		t.Fatalf("got %s", e)
	}
	alice.conn.Close() // no </stream:stream>: the connection is lost
	time.Sleep(100 * time.Millisecond)
	bob.chat(alice.jid, "m2") // to the detached session

	// Another user cannot resume it.
	_, e := smResume(t, ts, "bob", id, 0)
	if e.XMLName.Local != "failed" || e.find("item-not-found") == nil || e.attr("h") != "" {
		t.Fatalf("bob resuming alice's session: %s", e)
	}

	again, e := smResume(t, ts, "alice", id, 2)
	if e.XMLName.Local != "resumed" || e.attr("previd") != id || e.attr("h") != "1" {
		t.Fatalf("resume: %s (want h=1: the presence)", e)
	}
	again.jid = alice.jid
	if m := scrape(ts); !strings.Contains(m, "xtokend_sm_resumed_total 1\n") || !strings.Contains(m, "xtokend_sm_detached_sessions 0\n") {
		t.Errorf("metrics after the resumption:\n%s", smMetrics(m))
	}
	for _, want := range []string{"m1", "m2"} {
		m := again.expect("message")
		if m.attr("id") != want || m.attr("to") != alice.jid {
			t.Fatalf("got %s, want %s to %s", m, want, alice.jid)
		}
	}
	again.expect("r") // the server asks after sending again
	fmt.Fprint(again.conn, "<a xmlns='urn:xmpp:sm:3' h='4'/>")
	// Still the same session: a ping works, the count goes on.
	fmt.Fprintf(again.conn, wPing, 1)
	if e := again.expect("iq"); e.attr("id") != "p1" {
		t.Fatalf("got %s", e)
	}
	fmt.Fprint(again.conn, wR)
	if e := again.expect("a"); e.attr("h") != "2" {
		t.Fatalf("a: %s, want h=2 (presence, ping)", e)
	}
	// The watcher saw no presence of alice's phone: not unavailable at the
	// cut, not available again at the resumption.
	fmt.Fprintf(watcher.conn, wPing, 7)
	if e := watcher.next(); e.XMLName.Local != "iq" {
		t.Fatalf("the watcher got %s before its ping's answer", e)
	}
	// Resuming it again while this connection is open takes it over.
	third, e := smResume(t, ts, "alice", id, 5)
	if e.XMLName.Local != "resumed" {
		t.Fatalf("take-over: %s", e)
	}
	if cond := again.expectStreamError(); cond != "conflict" {
		t.Fatalf("the old connection ended with %q, want conflict", cond)
	}
	third.jid = alice.jid
	fmt.Fprintf(third.conn, wPing, 2)
	if e := third.expect("iq"); e.attr("id") != "p2" {
		t.Fatalf("got %s", e)
	}
	// A clean end: the id is gone with the session.
	fmt.Fprint(third.conn, "<a xmlns='urn:xmpp:sm:3' h='6'/>"+wEnd)
	readAll(t, third.conn)
	time.Sleep(100 * time.Millisecond)
	_, e = smResume(t, ts, "alice", id, 6)
	if e.XMLName.Local != "failed" || e.find("item-not-found") == nil {
		t.Fatalf("resuming an ended session: %s", e)
	}
	if e := watcher.expect("presence"); e.attr("type") != "unavailable" || e.attr("from") != alice.jid {
		t.Fatalf("after the end, the watcher got %s", e)
	}
}

// TestSMResumeRefused: counts the server cannot have sent, and sessions
// that asked for no resumption.
func TestSMResumeRefused(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Configure: smOptions(time.Minute, 100)})
	alice := rawLogin(t, ts, "alice", "localhost", "phone")
	id := alice.smEnable()
	alice.conn.Close()
	time.Sleep(100 * time.Millisecond)
	_, e := smResume(t, ts, "alice", id, 5)
	if e.XMLName.Local != "failed" || e.find("undefined-condition") == nil || e.attr("h") != "0" {
		t.Fatalf("h too high: %s", e)
	}
	// That ended the session.
	_, e = smResume(t, ts, "alice", id, 0)
	if e.XMLName.Local != "failed" || e.find("item-not-found") == nil {
		t.Fatalf("after a failed resumption: %s", e)
	}

	// Without resume='true' no session waits.
	carol := rawLogin(t, ts, "carol", "localhost", "r")
	fmt.Fprint(carol.conn, wEnable)
	carol.expect("enabled")
	carol.conn.Close()
	time.Sleep(100 * time.Millisecond)
	if s := ts.Sessions()["localhost"]; strings.Contains(strings.Join(s, " "), "carol@") {
		t.Errorf("carol's session without resumption is still bound: %v", s)
	}

	// resume_timeout = 0: no resumption offered.
	off := servertest.Start(t, servertest.Options{Configure: smOptions(0, 100)})
	dave := rawLogin(t, off, "dave", "localhost", "r")
	fmt.Fprint(dave.conn, wEnableRes)
	if e := dave.expect("enabled"); e.attr("id") != "" || e.attr("resume") != "" {
		t.Errorf("resume_timeout 0 enabled resumption: %s", e)
	}
}

// TestSMTimeout: a session not resumed in time ends: its unacked stanzas
// are bounced to their senders (or, with storage, chat messages kept
// offline), then its unavailable presence goes out.
func TestSMTimeout(t *testing.T) {
	for _, withStorage := range []bool{false, true} {
		t.Run(fmt.Sprintf("storage=%v", withStorage), func(t *testing.T) {
			opts := servertest.Options{Configure: smOptions(time.Second, 100)}
			if withStorage {
				opts.Storage = &storage.Options{Backend: "sqlite", Path: "sm.db"}
			}
			ts := servertest.Start(t, opts)
			alice := rawLogin(t, ts, "alice", "localhost", "phone")
			watcher := rawLogin(t, ts, "alice", "localhost", "desk")
			bob := rawLogin(t, ts, "bob", "localhost", "r")
			alice.smEnable()
			fmt.Fprint(watcher.conn, "<presence/>")
			watcher.expect("presence")
			fmt.Fprint(alice.conn, "<presence/>")
			alice.expect("presence")
			alice.expect("presence")
			watcher.expect("presence")
			bob.chat(alice.jid, "m1")
			alice.expect("message")
			alice.conn.Close()
			time.Sleep(100 * time.Millisecond)
			fmt.Fprintf(bob.conn, "<iq type='get' id='q1' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>", alice.jid)
			bob.chat(alice.jid, "m2")

			// The iq is bounced either way; the messages only without storage.
			want := map[string]bool{"q1": true}
			if !withStorage {
				want["m1"], want["m2"] = true, true
			}
			for len(want) > 0 {
				e := bob.next()
				if e.attr("type") != "error" || !want[e.attr("id")] {
					t.Fatalf("bob got %s; still waiting for errors to %v", e, want)
				}
				if e.find("recipient-unavailable") == nil || e.attr("from") != alice.jid {
					t.Errorf("bounce: %s", e)
				}
				delete(want, e.attr("id"))
			}
			if e := watcher.expect("presence"); e.attr("type") != "unavailable" || e.attr("from") != alice.jid {
				t.Fatalf("the watcher got %s, want the phone's unavailable presence", e)
			}
			bounced := "3"
			if withStorage {
				bounced = "1"
			}
			if m := scrape(ts); !strings.Contains(m, "xtokend_sm_expired_total 1\n") || !strings.Contains(m, "xtokend_sm_bounced_total "+bounced+"\n") ||
				!strings.Contains(m, "xtokend_sm_detached_sessions 0\n") {
				t.Errorf("metrics after the expiry:\n%s", smMetrics(m))
			}
			if withStorage {
				// The next login gets them from offline storage.
				fresh := rawLogin(t, ts, "alice", "localhost", "phone")
				fmt.Fprint(fresh.conn, "<presence/>")
				for _, id := range []string{"m1", "m2"} {
					e := fresh.nextMatching(func(e *elem) bool { return e.XMLName.Local == "message" })
					if e.attr("id") != id || e.find("delay") == nil {
						t.Fatalf("offline: got %s, want %s with a delay", e, id)
					}
				}
			}
		})
	}
}

// TestSMOverflow: past max_unacked, the session ends with
// resource-constraint, connected or not.
func TestSMOverflow(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Configure: smOptions(time.Minute, 3)})
	alice := rawLogin(t, ts, "alice", "localhost", "phone")
	bob := rawLogin(t, ts, "bob", "localhost", "r")
	alice.smEnable()
	for i := range 4 {
		fmt.Fprintf(bob.conn, "<message type='headline' to='%s' id='h%d'><body>x</body></message>", alice.jid, i)
	}
	if cond := alice.expectStreamError(); cond != "resource-constraint" {
		t.Fatalf("ended with %q, want resource-constraint", cond)
	}

	carol := rawLogin(t, ts, "carol", "localhost", "phone")
	id := carol.smEnable()
	carol.conn.Close()
	time.Sleep(100 * time.Millisecond)
	for i := range 4 {
		fmt.Fprintf(bob.conn, "<message type='headline' to='%s' id='h%d'><body>x</body></message>", carol.jid, i)
	}
	fmt.Fprintf(bob.conn, wPing, 5)
	bob.nextMatching(func(e *elem) bool { return e.attr("id") == "p5" })
	time.Sleep(100 * time.Millisecond)
	if _, e := smResume(t, ts, "carol", id, 0); e.XMLName.Local != "failed" {
		t.Fatalf("resuming an overflowed session: %s", e)
	}
}

// nextMatching returns the next element match accepts, skipping others.
func (c *rawClient) nextMatching(match func(*elem) bool) *elem {
	c.t.Helper()
	for {
		if e := c.next(); match(e) {
			return e
		}
	}
}

// TestSMClusterOtherNode: a resumption that reaches another node of a
// cluster than the one holding the session is item-not-found at once; the
// node holding it resumes it.
func TestSMClusterOtherNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two cluster nodes")
	}
	secret := writeClusterSecret(t)
	node := func(name string, seeds ...*servertest.Server) *servertest.Server {
		var join []string
		for _, s := range seeds {
			join = append(join, s.ClusterNode().GossipAddr())
		}
		return servertest.Start(t, servertest.Options{Cluster: &cluster.Options{
			NodeName: name, Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: join,
			SecretFile: secret, JoinTimeout: cluster.Duration{Duration: clusterWait},
		}})
	}
	n1 := node("node1")
	n2 := node("node2", n1)
	clusterEventually(t, "two members", members([]*servertest.Server{n1, n2}, "node1", "node2"))

	alice := rawLogin(t, n1, "alice", "localhost", "phone")
	id := alice.smEnable()
	alice.conn.Close()
	time.Sleep(100 * time.Millisecond)

	start := time.Now()
	_, e := smResume(t, n2, "alice", id, 0)
	if e.XMLName.Local != "failed" || e.find("item-not-found") == nil {
		t.Fatalf("resuming on the other node: %s", e)
	}
	t.Logf("answered in %v", time.Since(start))
	if _, e := smResume(t, n1, "alice", id, 0); e.XMLName.Local != "resumed" {
		t.Fatalf("resuming on the node holding it: %s", e)
	}
}

// TestSMWebSocketResume: a WebSocket whose connection drops without
// <close/> leaves its session detached; a new WebSocket resumes it and
// gets the message sent meanwhile.
func TestSMWebSocketResume(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	w := loginWS(t, ts, "alice@localhost", "web")
	w.send(wEnableRes)
	id := w.expect("enabled").attr("id")
	bob := rawLogin(t, ts, "bob", "localhost", "r")
	w.c.CloseNow() // the TCP connection goes, no close frame, no <close/>
	time.Sleep(100 * time.Millisecond)
	bob.chat("alice@localhost/web", "m1")

	again := dialWS(t, ts)
	again.authenticate(ts, "alice@localhost")
	again.send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='0'/>")
	if e := again.expect("resumed"); e.attr("previd") != id {
		t.Fatalf("resumed: %s", e)
	}
	if m := again.expect("message"); m.attr("id") != "m1" || m.attr("to") != "alice@localhost/web" {
		t.Fatalf("got %s", m)
	}
}

// TestSMResumeAfterReset: a connection reset (RST, as a dropped NAT
// mapping or a killed proxy gives) leaves the session resumable, like a
// close without the stream's end.
func TestSMResumeAfterReset(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	alice := rawLogin(t, ts, "alice", "localhost", "phone")
	id := alice.smEnable()
	alice.conn.(*net.TCPConn).SetLinger(0)
	alice.conn.Close()
	time.Sleep(100 * time.Millisecond)
	if _, e := smResume(t, ts, "alice", id, 0); e.XMLName.Local != "resumed" {
		t.Fatalf("after a reset: %s", e)
	}
}

// smMetrics are the stream management lines of a scrape.
func smMetrics(scrape string) string {
	var out []string
	for _, l := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(l, "xtokend_sm_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSMWebSocketCloseFrame: a WebSocket close frame without <close/> (a
// tab closing, a proxy timing out, whatever its status code) is a dropped
// connection, not the stream's end: the session waits for a resumption.
// Only <close/> ends it for good.
func TestSMWebSocketCloseFrame(t *testing.T) {
	ts := startWS(t, servertest.Options{})
	for i, tc := range []struct {
		name      string
		streamEnd bool // <close/> before the close frame
		status    ws.StatusCode
		want      string // resumed or failed
	}{
		{name: "normal closure", status: ws.StatusNormalClosure, want: "resumed"},
		{name: "going away", status: ws.StatusGoingAway, want: "resumed"},
		{name: "internal error", status: ws.StatusInternalError, want: "resumed"},
		{name: "application status", status: 4000, want: "resumed"},
		{name: "<close/> then normal closure", streamEnd: true, status: ws.StatusNormalClosure, want: "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resource := fmt.Sprintf("tab%d", i)
			w := loginWS(t, ts, "alice@localhost", resource)
			w.send(wEnableRes)
			id := w.expect("enabled").attr("id")
			if tc.streamEnd {
				w.send(`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`)
				w.expect("close")
			}
			w.c.Close(tc.status, "")
			// Until the server has read the close frame, a resumption would
			// take the session over: wait for its end or its detachment.
			full := "alice@localhost/" + resource
			clusterEventually(t, "the session ended or detached", func() bool {
				return !slices.Contains(ts.Sessions()["localhost"], full) ||
					strings.Contains(scrape(ts), "xtokend_sm_detached_sessions 1\n")
			})

			again := dialWS(t, ts)
			again.authenticate(ts, "alice@localhost")
			again.send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='0'/>")
			e := again.next()
			if e.XMLName.Local != tc.want {
				t.Fatalf("resuming after the close frame: %s, want %s", e, tc.want)
			}
			if tc.want == "failed" && e.find("item-not-found") == nil {
				t.Errorf("failed without item-not-found: %s", e)
			}
			again.send(`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`)
			again.expect("close")
			again.c.Close(ws.StatusNormalClosure, "")
			clusterEventually(t, "the resumed session ended", func() bool {
				return !slices.Contains(ts.Sessions()["localhost"], full)
			})
		})
	}
}

// TestSMLastAck: a session the server ends itself (a kick here, Shutdown
// below) with stanzas unacked gets <r/> before its stream error, and the
// <a/> it answers with in time counts: only what it did not ack is bounced
// to the sender. Without an answer the stream error follows after a short
// wait; with nothing unacked no <r/> is sent.
func TestSMLastAck(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	for i, tc := range []struct {
		name    string
		ackedAt int    // the client's <a/> before the kick (h)
		answer  string // its answer to the <r/>, "" for none
		bounced []string
	}{
		{name: "answered with all", answer: "<a xmlns='urn:xmpp:sm:3' h='2'/>"},
		{name: "answered with one", answer: "<a xmlns='urn:xmpp:sm:3' h='1'/>", bounced: []string{"m2"}},
		{name: "not answered", bounced: []string{"m1", "m2"}},
		{name: "nothing unacked", ackedAt: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resource := fmt.Sprintf("phone%d", i)
			alice := rawLogin(t, ts, "alice", "localhost", resource)
			bob := rawLogin(t, ts, "bob", "localhost", resource)
			alice.smEnable()
			for _, id := range []string{"m1", "m2"} {
				bob.chat(alice.jid, id)
				if e := alice.expect("message"); e.attr("id") != id {
					t.Fatalf("alice got %s, want %s", e, id)
				}
			}
			if tc.ackedAt > 0 {
				fmt.Fprintf(alice.conn, "<a xmlns='urn:xmpp:sm:3' h='%d'/>"+wPing, tc.ackedAt, 1)
				alice.expect("iq")
			}
			if ended, err := ts.Kick(t.Context(), alice.jid); err != nil || !ended {
				t.Fatalf("kick: %v, %v", ended, err)
			}
			if tc.ackedAt == 0 {
				alice.expect("r")
				if tc.answer != "" {
					fmt.Fprint(alice.conn, tc.answer)
				}
			}
			if cond := alice.expectStreamError(); cond != "policy-violation" {
				t.Fatalf("kicked with %q, want policy-violation", cond)
			}
			clusterEventually(t, "alice's session ended", func() bool {
				return !slices.Contains(ts.Sessions()["localhost"], alice.jid)
			})
			// Every bounce was routed before alice's session was gone: a
			// ping's answer comes after them.
			fmt.Fprintf(bob.conn, wPing, 9)
			var got []string
			for e := bob.next(); e.attr("id") != "p9"; e = bob.next() {
				if e.attr("type") != "error" || e.find("recipient-unavailable") == nil {
					t.Errorf("bob got %s", e)
				}
				got = append(got, e.attr("id"))
			}
			if !slices.Equal(got, tc.bounced) {
				t.Errorf("bounced %v, want %v", got, tc.bounced)
			}
		})
	}

	t.Run("websocket", func(t *testing.T) {
		ts := startWS(t, servertest.Options{})
		w := loginWS(t, ts, "alice@localhost", "web")
		w.send(wEnableRes)
		w.expect("enabled")
		bob := rawLogin(t, ts, "bob", "localhost", "desk")
		bob.chat("alice@localhost/web", "m1")
		w.expect("message")
		if ended, err := ts.Kick(t.Context(), "alice@localhost/web"); err != nil || !ended {
			t.Fatalf("kick: %v, %v", ended, err)
		}
		w.expect("r")
		w.send("<a xmlns='urn:xmpp:sm:3' h='1'/>")
		w.expectStreamError("policy-violation")
		clusterEventually(t, "alice's session ended", func() bool {
			return !slices.Contains(ts.Sessions()["localhost"], "alice@localhost/web")
		})
		if m := scrape(ts); !strings.Contains(m, "xtokend_sm_bounced_total 0\n") {
			t.Errorf("metrics after the kick:\n%s", smMetrics(m))
		}
	})

	t.Run("shutdown", func(t *testing.T) {
		ts := servertest.Start(t, servertest.Options{})
		alice := rawLogin(t, ts, "alice", "localhost", "phone")
		bob := rawLogin(t, ts, "bob", "localhost", "desk")
		alice.smEnable()
		bob.chat(alice.jid, "m1")
		alice.expect("message")
		done := make(chan error, 1)
		go func() { done <- ts.Shutdown(t.Context()) }()
		alice.expect("r")
		fmt.Fprint(alice.conn, "<a xmlns='urn:xmpp:sm:3' h='1'/>")
		if cond := alice.expectStreamError(); cond != "system-shutdown" {
			t.Fatalf("ended with %q, want system-shutdown", cond)
		}
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if m := scrape(ts); !strings.Contains(m, "xtokend_sm_bounced_total 0\n") {
			t.Errorf("metrics after the shutdown:\n%s", smMetrics(m))
		}
	})
}
