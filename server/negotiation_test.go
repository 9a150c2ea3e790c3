package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/server/servertest"
)

func TestUnknownHost(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	for _, to := range []string{"example.org", "alice@localhost", ""} {
		t.Run(to, func(t *testing.T) {
			conn := rawDial(t, ts, "")
			fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='%s'>", to)
			got := readAll(t, conn)
			if !strings.Contains(got, "<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") || !strings.HasSuffix(got, "</stream:stream>") {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestStartTLSRequired(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	c.d = newDecoder(c.conn)
	f := c.expect("features")
	if f.find("starttls") == nil || f.find("mechanisms") != nil {
		t.Fatalf("features before TLS: %s", f)
	}
	// SASL before TLS is refused, and the stream ends.
	token := ts.Mint(t, "alice@localhost")
	fmt.Fprintf(c.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>",
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+token)))
	if cond := c.expectStreamError(); cond != "policy-violation" {
		t.Errorf("SASL before TLS: got %q, want policy-violation", cond)
	}
	if strings.Contains(ts.Logs(), "result=success") {
		t.Errorf("a login succeeded on plaintext")
	}
}

func TestBadTokens(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	good := ts.Mint(t, "alice@localhost")
	for _, tc := range []struct {
		name, payload, cond string
	}{
		{"wrong user", base64.StdEncoding.EncodeToString([]byte("\x00bob\x00" + good)), "not-authorized"},
		{"bad base64", "!!!", "incorrect-encoding"},
		{"two fields", base64.StdEncoding.EncodeToString([]byte("alice\x00" + good)), "malformed-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
			c.d = newDecoder(c.conn)
			c.expect("features")
			fmt.Fprintf(c.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>", tc.payload)
			f := c.expect("failure")
			if f.find(tc.cond) == nil {
				t.Errorf("got %s, want %s", f, tc.cond)
			}
		})
	}
	if strings.Contains(ts.Logs(), good) || strings.Contains(ts.Logs(), good[:40]) {
		t.Errorf("the log holds the token")
	}
}

func TestResourceConflict(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	first := rawLogin(t, ts, "alice", "localhost", "phone")
	if first.jid != "alice@localhost/phone" {
		t.Fatalf("bound %s, want alice@localhost/phone", first.jid)
	}
	second := rawLogin(t, ts, "alice", "localhost", "phone")
	if second.jid != "alice@localhost/phone" {
		t.Fatalf("second bound %s", second.jid)
	}
	if cond := first.expectStreamError(); cond != "conflict" {
		t.Fatalf("replaced session got %q, want conflict", cond)
	}
	// The new session works and is the only one.
	fmt.Fprintf(second.conn, "<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if e := second.expect("iq"); e.attr("type") != "result" {
		t.Errorf("ping: %s", e)
	}
	if got := ts.Sessions()["localhost"]; len(got) != 1 || got[0] != "alice@localhost/phone" {
		t.Errorf("Sessions() = %v", got)
	}
	// An invalid resource gets a random one instead.
	third := rawLogin(t, ts, "alice", "localhost", "")
	if !strings.HasPrefix(third.jid, "alice@localhost/") || third.jid == "alice@localhost/phone" {
		t.Errorf("empty resource bound %s", third.jid)
	}
}

// A message sent to a session between its bind result and the start of its
// read loop waits in its queue.
func TestMessageDuringBind(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	alice := login(t, ts, "alice@localhost", "", loginOpts{})
	for i := range 20 {
		res := fmt.Sprintf("r%d", i)
		done := make(chan *rawClient, 1)
		go func() { done <- rawLogin(t, ts, "bob", "localhost", res) }()
		// As soon as the resource is registered, before bob has his result.
		waitFor(t, func() bool {
			for _, j := range ts.Sessions()["localhost"] {
				if j == "bob@localhost/"+res {
					return true
				}
			}
			return false
		})
		alice.send(`<message to='bob@localhost/%s' id='%s'><body>early</body></message>`, res, res)
		bob := <-done
		if m := bob.expect("message"); m.attr("id") != res || m.attr("from") != alice.jid.String() {
			t.Fatalf("bob got %s", m)
		}
		bob.conn.Close()
	}
}

func TestStalledNegotiation(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{NegotiationTimeout: 300 * time.Millisecond})
	t.Run("silent", func(t *testing.T) {
		conn := rawDial(t, ts, "")
		readAll(t, conn) // returns once the server hangs up
	})
	t.Run("header only", func(t *testing.T) {
		conn := rawDial(t, ts, "localhost")
		if got := readAll(t, conn); !strings.Contains(got, "connection-timeout") {
			t.Errorf("got %q", got)
		}
	})
	t.Run("half a stanza", func(t *testing.T) {
		conn := rawDial(t, ts, "localhost")
		fmt.Fprintf(conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>AAAA")
		readAll(t, conn)
	})
}

func TestOversizedStanza(t *testing.T) {
	const limit = 10000
	ts := servertest.Start(t, servertest.Options{MaxStanzaSize: limit})
	alice := rawLogin(t, ts, "alice", "localhost", "a")

	// Under the limit: delivered (to herself, as her bare JID's resource).
	fmt.Fprintf(alice.conn, "<presence/>")
	alice.expect("presence")
	body := strings.Repeat("x", limit-200)
	fmt.Fprintf(alice.conn, "<message to='alice@localhost/a'><body>%s</body></message>", body)
	if m := alice.expect("message"); m.find("body").Text != body {
		t.Fatalf("the message under the limit was changed")
	}
	// Over: policy-violation, even though the client never finishes it.
	fmt.Fprintf(alice.conn, "<message to='alice@localhost/a'><body>%s", strings.Repeat("y", 2*limit))
	if cond := alice.expectStreamError(); cond != "policy-violation" {
		t.Errorf("got %q, want policy-violation", cond)
	}
	// During negotiation too.
	c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	c.d = newDecoder(c.conn)
	c.expect("features")
	fmt.Fprintf(c.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s", strings.Repeat("A", 2*limit))
	if cond := c.expectStreamError(); cond != "policy-violation" {
		t.Errorf("during negotiation: got %q, want policy-violation", cond)
	}
}

// A client that never reads is disconnected, by a full queue or by a write
// timeout; everyone else keeps talking meanwhile.
func TestSlowClient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		startTLS  bool
		queueSize int
	}{
		{"queue full", false, 8},
		{"write timeout over TLS", true, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := servertest.Start(t, servertest.Options{
				RequireStartTLS: tc.startTLS,
				QueueSize:       tc.queueSize,
				WriteTimeout:    500 * time.Millisecond,
			})
			o := loginOpts{startTLS: tc.startTLS}
			slow := login(t, ts, "slow@localhost", "", loginOpts{startTLS: tc.startTLS, noRead: true})
			alice := login(t, ts, "alice@localhost", "", o)
			bob := login(t, ts, "bob@localhost", "", o)
			bob.send(`<presence/>`)
			bob.ping("sync")

			go func() {
				for range alice.in { // the errors for slow once it is gone
				}
			}()
			big := strings.Repeat("z", 60000)
			stop := make(chan struct{})
			flooded := make(chan struct{})
			go func() {
				defer close(flooded)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					alice.conn.SetWriteDeadline(time.Now().Add(waitLimit))
					if _, err := fmt.Fprintf(alice.conn, "<message to='%s' id='f%d'><body>%s</body></message>", slow.jid, i, big); err != nil {
						return
					}
				}
			}()
			// Bob's exchanges go on while slow's queue fills up.
			for i := range 50 {
				if e := bob.ping(fmt.Sprintf("b%d", i)); e.attr("type") != "result" {
					t.Fatalf("bob's ping: %s", e)
				}
			}
			waitFor(t, func() bool {
				for _, j := range ts.Sessions()["localhost"] {
					if j == slow.jid.String() {
						return false
					}
				}
				return true
			})
			close(stop)
			<-flooded
			bob.send(`<message to='bob@localhost'><body>still here</body></message>`)
			if m := bob.nextMatching(isMessage); m.find("body").Text != "still here" {
				t.Errorf("got %s", m)
			}
			if got := ts.Sessions()["localhost"]; len(got) != 2 {
				t.Errorf("sessions left: %v", got)
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	var started, ended atomic.Int32
	ts := servertest.Start(t, servertest.Options{Hooks: server.Hooks{
		OnSessionStart: func(string) { started.Add(1) },
		OnSessionEnd:   func(string) { ended.Add(1) },
	}})
	a := login(t, ts, "alice@localhost", "", loginOpts{})
	b := login(t, ts, "bob@localhost", "", loginOpts{startTLS: false})
	waiting := rawDial(t, ts, "localhost") // still negotiating

	if err := ts.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if cond := c.streamError(); cond != "system-shutdown" {
			t.Errorf("%s: got %q, want system-shutdown", c.jid, cond)
		}
	}
	readAll(t, waiting)
	if started.Load() != 2 || ended.Load() != 2 {
		t.Errorf("hooks: %d started, %d ended", started.Load(), ended.Load())
	}
	if _, err := tryLogin(t, ts, "carol@localhost", "", loginOpts{}); err == nil {
		t.Errorf("login after shutdown worked")
	}
}

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, waitLimit, "condition not met", cond)
}

func TestTLSVersion(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	for _, tc := range []struct {
		name    string
		max     uint16
		succeed bool
	}{
		{"TLS 1.1 refused", tls.VersionTLS11, false},
		{"TLS 1.2", tls.VersionTLS12, true},
		{"TLS 1.3", tls.VersionTLS13, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
			c.d = newDecoder(c.conn)
			c.expect("features")
			fmt.Fprintf(c.conn, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
			c.expect("proceed")
			cfg := ts.ClientTLS("localhost")
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tc.max
			tc2 := tls.Client(c.conn, cfg)
			tc2.SetDeadline(time.Now().Add(waitLimit))
			err := tc2.Handshake()
			if (err == nil) != tc.succeed {
				t.Errorf("handshake: %v", err)
			}
		})
	}
}

// Without a certificate, STARTTLS uses one made in memory for the hosts.
func TestSelfSignedCertificate(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	cfg := *ts.Config
	srv, err := server.New(context.Background(), server.Config{File: &cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &rawClient{t: t, conn: conn, d: newDecoder(conn)}
	fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='localhost'>")
	c.expect("features")
	fmt.Fprintf(conn, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.expect("proceed")
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(waitLimit))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	leaf := tc.ConnectionState().PeerCertificates[0]
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Errorf("self-signed certificate: %v", err)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %v", leaf.PublicKeyAlgorithm)
	}
}
