package server_test

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
)

// limitClient speaks raw XMPP on plaintext (require_starttls = false) so the
// test sees each SASL answer as sent.
type limitClient struct {
	t    *testing.T
	conn net.Conn
	d    *xml.Decoder
}

func dialLimit(t *testing.T, ts *opsServer, host string) *limitClient {
	t.Helper()
	return dialLimitFrom(t, ts, host, "")
}

// dialLimitFrom is dialLimit from the loopback address from ("" for the
// system's choice): on Linux every 127.x.y.z is this machine, so a test can
// be many client addresses.
func dialLimitFrom(t *testing.T, ts *opsServer, host, from string) *limitClient {
	t.Helper()
	var d net.Dialer
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	conn, err := d.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(opsWait))
	fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='%s'>", host)
	return &limitClient{t: t, conn: conn, d: xml.NewDecoder(conn)}
}

// next returns the next top-level element's name and its first child's
// name (the condition of a <failure/> or a stream error).
func (c *limitClient) next() (name, child string, err error) {
	for {
		tok, err := c.d.Token()
		if err != nil {
			return "", "", err
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local == "stream" {
			continue
		}
		var e struct {
			Children []struct{ XMLName xml.Name } `xml:",any"`
		}
		if err := c.d.DecodeElement(&e, &start); err != nil {
			return "", "", err
		}
		if len(e.Children) > 0 {
			child = e.Children[0].XMLName.Local
		}
		return start.Name.Local, child, nil
	}
}

func (c *limitClient) expect(name, child string) {
	c.t.Helper()
	gotName, gotChild, err := c.next()
	if err != nil || gotName != name || (child != "" && gotChild != child) {
		c.t.Fatalf("got <%s><%s/> (%v), want <%s><%s/>", gotName, gotChild, err, name, child)
	}
}

func (c *limitClient) auth(user, token string) {
	c.t.Helper()
	payload := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + token))
	if _, err := fmt.Fprintf(c.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>", payload); err != nil {
		c.t.Fatal(err)
	}
}

// The failed-login limit bites on failures only: over it, a failure is
// answered with temporary-auth-failure (and still counts toward the
// connection's three attempts), while a valid token from the same address
// logs in.
func TestLimitFailedLogins(t *testing.T) {
	ts := startOpsServer(t, newOpsKeys(t), opsOptions{configure: func(c *config.Config) {
		c.TLS.RequireStartTLS = false
		c.Limits = config.LimitOptions{FailedLoginsPerMinute: 0.001, FailedLoginBurst: 2} // no loopback exemption
	}})

	// Successful logins are not failures: many in a row pass.
	for i := range 6 {
		c := dialLimit(t, ts, "first.com")
		c.expect("features", "")
		c.auth(fmt.Sprintf("user%d", i), ts.mint(t, fmt.Sprintf("user%d@first.com", i)))
		c.expect("success", "")
		c.conn.Close()
	}

	c := dialLimit(t, ts, "first.com")
	c.expect("features", "")
	c.auth("alice", ts.mint(t, "bob@first.com")) // a token for someone else
	c.expect("failure", "not-authorized")
	c.auth("carol", ts.mint(t, "bob@first.com"))
	c.expect("failure", "not-authorized")
	// The burst of failures is spent: the next failure is refused, with a
	// proper <failure/>, and the stream stays up...
	c.auth("dave", ts.mint(t, "bob@first.com"))
	c.expect("failure", "temporary-auth-failure")
	// ...until the connection's attempts are used up.
	c.auth("alice", ts.mint(t, "alice@first.com"))
	c.expect("error", "policy-violation")

	// A new connection from the same address: its failures are refused
	// at once, its valid token logs in.
	c2 := dialLimit(t, ts, "localhost")
	c2.expect("features", "")
	c2.auth("erin", ts.mint(t, "bob@localhost"))
	c2.expect("failure", "temporary-auth-failure")
	c2.auth("carol", ts.mint(t, "carol@localhost"))
	c2.expect("success", "")

	body := ts.scrape(t)
	if v := opsMetric(t, body, `xtokend_rate_limited_total{what="login"}`); v != 2 {
		t.Errorf("rate_limited_total{login} = %v, want 2", v)
	}
	if v := opsMetric(t, body, `xtokend_sasl_failures_total{condition="temporary-auth-failure",host="first.com"}`); v != 1 {
		t.Errorf("temporary-auth-failure on first.com = %v, want 1", v)
	}
	if !strings.Contains(ts.logs.String(), "too many failed logins") {
		t.Error("the refusal was not logged")
	}
}

// badLogins makes n failed X-TOKEN attempts as user (a token signed for
// someone else) from the loopback address from, three to a connection sent
// in one write, and counts the answers by condition.
func badLogins(t *testing.T, ts *opsServer, from, user string, n int) map[string]int {
	t.Helper()
	bad := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + ts.mint(t, "token-owner@localhost")))
	auth := "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>" + bad + "</auth>"
	got := make(map[string]int)
	for n > 0 {
		k := min(n, 3)
		n -= k
		c := dialLimitFrom(t, ts, "localhost", from)
		if _, err := io.WriteString(c.conn, strings.Repeat(auth, k)); err != nil {
			t.Fatal(err)
		}
		c.expect("features", "")
		for range k {
			name, cond, err := c.next()
			if err != nil || name != "failure" {
				t.Fatalf("bad token: got <%s><%s/> (%v), want a <failure/>", name, cond, err)
			}
			got[cond]++
		}
		c.conn.Close()
	}
	return got
}

// Defect 2 of issue 19: 2,000 bad tokens from one address (the loopback
// exemption removed) locked every valid token from that address out with
// temporary-auth-failure. A valid token must log in whatever others' failures
// were; the attacker's failures are still limited.
func TestLimitValidTokenAfterFlood(t *testing.T) {
	limits := config.DefaultLimitOptions()
	limits.Exempt = []string{}           // loopback limited like anyone
	limits.FailedLoginsPerMinute = 0.001 // no refill while the test runs
	limits.ConnectionsPerSecond = 0      // the flood's 667 connections come at once
	limits.MaxConnectionsPerAddress = 0  // and may still be closing
	ts := startOpsServer(t, newOpsKeys(t), opsOptions{configure: func(c *config.Config) {
		c.TLS.RequireStartTLS = false
		c.Limits = limits
	}})

	got := badLogins(t, ts, "", "mallory", 2000)
	// The limit bit: past the burst, every failure was refused.
	burst := limits.FailedLoginBurst
	if got["not-authorized"] != burst || got["temporary-auth-failure"] != 2000-burst {
		t.Errorf("answers to 2,000 bad tokens: %v, want %d not-authorized (the burst) and the rest temporary-auth-failure", got, burst)
	}

	// Valid tokens from the same address log in, for the attacked user too.
	for _, user := range []string{"alice", "mallory"} {
		c := dialLimit(t, ts, "localhost")
		c.expect("features", "")
		c.auth(user, ts.mint(t, user+"@localhost"))
		c.expect("success", "")
	}
	// And a bad one is still refused.
	c := dialLimit(t, ts, "localhost")
	c.expect("features", "")
	c.auth("bob", ts.mint(t, "mallory@localhost"))
	c.expect("failure", "temporary-auth-failure")
	if v := opsMetric(t, ts.scrape(t), `xtokend_rate_limited_total{what="login"}`); v != float64(2000-burst+1) {
		t.Errorf("rate_limited_total{login} = %v, want %d", v, 2000-burst+1)
	}
}

// Failures are limited per user too, from however many addresses they
// come: past the user's burst they are refused, while another user's
// failures keep their own answer and the user's valid token logs in.
func TestLimitFailedLoginsPerUser(t *testing.T) {
	ts := startOpsServer(t, newOpsKeys(t), opsOptions{configure: func(c *config.Config) {
		c.TLS.RequireStartTLS = false
		c.Limits = config.LimitOptions{FailedLoginsPerMinute: 0.001, FailedLoginBurst: 3}
	}})
	// Alice's burst, spent from three addresses (one failure each: no
	// address is over its own limit).
	for i := range 3 {
		if got := badLogins(t, ts, fmt.Sprintf("127.0.0.%d", 2+i), "Alice", 1); got["not-authorized"] != 1 {
			t.Fatalf("failure %d for alice: %v, want not-authorized", i, got)
		}
	}
	// A fourth address: alice's failures are over her limit.
	if got := badLogins(t, ts, "127.0.0.5", "alice", 1); got["temporary-auth-failure"] != 1 {
		t.Errorf("failure past alice's burst: %v, want temporary-auth-failure", got)
	}
	// Bob is not alice: his failure keeps its condition...
	if got := badLogins(t, ts, "127.0.0.6", "bob", 1); got["not-authorized"] != 1 {
		t.Errorf("bob's failure: %v, want not-authorized", got)
	}
	// ...and alice's valid token logs in, once (it is then used up).
	token := ts.mint(t, "alice@localhost")
	c := dialLimitFrom(t, ts, "localhost", "127.0.0.7")
	c.expect("features", "")
	c.auth("alice", token)
	c.expect("success", "")
	c = dialLimitFrom(t, ts, "localhost", "127.0.0.8")
	c.expect("features", "")
	c.auth("alice", token)
	c.expect("failure", "temporary-auth-failure") // a replay: a failure, over alice's limit
	if v := opsMetric(t, ts.scrape(t), `xtokend_rate_limited_total{what="login"}`); v != 2 {
		t.Errorf("rate_limited_total{login} = %v, want 2", v)
	}
}

func TestLimitConnections(t *testing.T) {
	ts := startOpsServer(t, newOpsKeys(t), opsOptions{configure: func(c *config.Config) {
		c.TLS.RequireStartTLS = false
		c.Limits = config.LimitOptions{ConnectionsPerSecond: 0.001, ConnectionBurst: 3}
	}})
	for range 3 {
		c := dialLimit(t, ts, "localhost")
		c.expect("features", "")
	}
	c := dialLimit(t, ts, "localhost")
	if _, _, err := c.next(); !errors.Is(err, io.EOF) && !strings.Contains(fmt.Sprint(err), "reset") {
		t.Fatalf("connection over the limit: %v, want it closed", err)
	}
	if v := opsMetric(t, ts.scrape(t), `xtokend_rate_limited_total{what="connection"}`); v != 1 {
		t.Errorf("rate_limited_total{connection} = %v, want 1", v)
	}
}

func TestLimitConfig(t *testing.T) {
	cfg, err := config.Parse([]byte("[general]\nhosts = [\"localhost\"]\n[limits]\nconnections_per_second = 50\nexempt = []\n"), "/tmp/x/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := config.DefaultLimitOptions()
	want.ConnectionsPerSecond, want.Exempt = 50, []string{}
	if fmt.Sprint(cfg.Limits) != fmt.Sprint(want) {
		t.Errorf("limits = %+v, want %+v (defaults for what the file leaves out)", cfg.Limits, want)
	}
	if d := config.Default(); fmt.Sprint(d.Limits) != fmt.Sprint(config.DefaultLimitOptions()) {
		t.Errorf("DefaultConfig limits = %+v", d.Limits)
	}
	for _, bad := range []string{
		"[limits]\nconnection_burst = 0\n",
		"[limits]\nfailed_logins_per_minute = -1\n",
		"[limits]\nexempt = [\"localhost\"]\n",
		"[limits]\nconections_per_second = 1\n",
	} {
		_, err := config.Parse([]byte("[general]\nhosts = [\"localhost\"]\n"+bad), "/tmp/x/config.toml")
		if err == nil || !strings.Contains(err.Error(), "limits") {
			t.Errorf("%q: %v, want an error naming limits", bad, err)
		}
	}
}
