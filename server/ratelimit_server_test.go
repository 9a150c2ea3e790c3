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
	conn, err := net.Dial("tcp", ts.Addr)
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
	c.auth("alice", ts.mint(t, "bob@first.com"))
	c.expect("failure", "not-authorized")
	// The burst of failures is spent: even a good token is refused, with a
	// proper <failure/>, and the stream stays up...
	c.auth("alice", ts.mint(t, "alice@first.com"))
	c.expect("failure", "temporary-auth-failure")
	// ...until the connection's attempts are used up.
	c.auth("alice", ts.mint(t, "alice@first.com"))
	c.expect("error", "policy-violation")

	// A new connection from the same address is refused too.
	c2 := dialLimit(t, ts, "localhost")
	c2.expect("features", "")
	c2.auth("carol", ts.mint(t, "carol@localhost"))
	c2.expect("failure", "temporary-auth-failure")

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
