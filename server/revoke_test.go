package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/server/adminclient"
	"github.com/xtokend/xtokend/server/servertest"
)

// revokePeriod is otp_period in the revocation tests: short, so that a
// token minted after a revocation's window is a few seconds away, and long
// enough that a token minted just before stays unexpired while it is tried.
const revokePeriod = 4

func shortPeriod(c *config.Config) { c.Modules.AuthToken.OTPPeriod = revokePeriod }

// rawAuth dials ts and tries SASL X-TOKEN as node@host with token: "success"
// or the failure's condition.
func rawAuth(t *testing.T, ts *servertest.Server, node, host, token string) string {
	t.Helper()
	c := &rawClient{t: t, conn: rawDial(t, ts, host)}
	defer c.conn.Close()
	c.conn.SetDeadline(time.Now().Add(waitLimit))
	c.d = newDecoder(c.conn)
	c.expect("features")
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + node + "\x00" + token))
	fmt.Fprintf(c.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>", resp)
	e := c.next()
	if e.XMLName.Local == "failure" && len(e.Children) > 0 {
		return e.Children[0].XMLName.Local
	}
	return e.XMLName.Local
}

// streamErrorText reads until a stream error and returns its condition and text.
func (c *rawClient) streamErrorText() (cond, text string) {
	c.t.Helper()
	for {
		e := c.next()
		if e.XMLName.Local != "error" || e.XMLName.Space != "http://etherx.jabber.org/streams" {
			continue
		}
		for _, ch := range e.Children {
			if ch.XMLName.Local == "text" {
				text = ch.Text
			} else {
				cond = ch.XMLName.Local
			}
		}
		return cond, text
	}
}

// alive proves c's session still works: a ping is answered.
func (c *rawClient) alive(id string) {
	c.t.Helper()
	fmt.Fprintf(c.conn, "<iq type='get' id='%s'><ping xmlns='urn:xmpp:ping'/></iq>", id)
	for {
		if e := c.next(); e.XMLName.Local == "iq" && e.attr("id") == id {
			return
		}
	}
}

// waitValid waits until tokens minted now log in again after res.
func waitValid(res server.RevokeResult) { time.Sleep(time.Until(res.ValidFrom)) }

// TestRevokeOneNode: revoking a bare JID ends every session of it with
// not-authorized "revoked" and refuses its unexpired token, leaves other
// users alone, and a token minted after the window logs in; revoking a full
// JID ends that session only and bars it from binding again; a kick ends a
// session and revokes nothing.
func TestRevokeOneNode(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Configure: shortPeriod})
	ctx := context.Background()
	phone := rawLogin(t, ts, "alice", "localhost", "phone")
	desk := rawLogin(t, ts, "alice", "localhost", "desk")
	bob := rawLogin(t, ts, "bob", "localhost", "x")
	unused := ts.Mint(t, "alice@localhost")

	res, err := ts.Revoke(ctx, "Alice@localhost", "")
	if err != nil {
		t.Fatal(err)
	}
	if res.JID != "alice@localhost" || res.Ended != 2 || !res.ValidFrom.After(res.At) || res.Until.Before(res.ValidFrom) {
		t.Fatalf("Revoke = %+v", res)
	}
	for _, c := range []*rawClient{phone, desk} {
		if cond, text := c.streamErrorText(); cond != "not-authorized" || text != "revoked" {
			t.Fatalf("%s ended with %q %q, want not-authorized \"revoked\"", c.jid, cond, text)
		}
	}
	bob.alive("bob-1")
	if got := rawAuth(t, ts, "alice", "localhost", unused); got != "not-authorized" {
		t.Fatalf("the unexpired token minted before the revocation: %s", got)
	}
	if !strings.Contains(ts.Logs(), "revoked") {
		t.Fatal("the refusal's reason is not logged")
	}
	waitValid(res)
	if got := rawAuth(t, ts, "alice", "localhost", ts.Mint(t, "alice@localhost")); got != "success" {
		t.Fatalf("a token minted after the window: %s", got)
	}

	// One full JID.
	phone = rawLogin(t, ts, "alice", "localhost", "phone")
	desk = rawLogin(t, ts, "alice", "localhost", "desk")
	res, err = ts.Revoke(ctx, "alice@localhost", "phone")
	if err != nil || res.Ended != 1 {
		t.Fatalf("Revoke of a full JID = %+v, %v", res, err)
	}
	if cond, text := phone.streamErrorText(); cond != "not-authorized" || text != "revoked" {
		t.Fatalf("the revoked resource ended with %q %q", cond, text)
	}
	desk.alive("desk-1")
	if got := rawAuth(t, ts, "alice", "localhost", ts.Mint(t, "alice@localhost")); got != "success" {
		t.Fatalf("a full-JID revocation refused the user's token: %s", got)
	}
	c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	c.conn.SetDeadline(time.Now().Add(waitLimit))
	c.d = newDecoder(c.conn)
	c.expect("features")
	fmt.Fprintf(c.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>",
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+ts.Mint(t, "alice@localhost"))))
	c.expect("success")
	fmt.Fprintf(c.conn, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='localhost'>")
	c.expect("features")
	fmt.Fprintf(c.conn, "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>")
	if res := c.expect("iq"); res.attr("type") != "error" || !strings.Contains(res.String(), "not-authorized") {
		t.Fatalf("binding the revoked full JID: %s", res)
	}
	c.conn.Close()

	// A kick.
	ended, err := ts.Kick(ctx, "alice@localhost/desk")
	if err != nil || !ended {
		t.Fatalf("Kick = %t, %v", ended, err)
	}
	if cond, text := desk.streamErrorText(); cond != "policy-violation" || text == "revoked" {
		t.Fatalf("the kicked session ended with %q %q", cond, text)
	}
	rawLogin(t, ts, "alice", "localhost", "desk").alive("desk-2")
	if ended, err := ts.Kick(ctx, "alice@localhost/nowhere"); err != nil || ended {
		t.Fatalf("Kick of no session = %t, %v", ended, err)
	}
}

// TestRevocationAdminAPI: the endpoints over the real admin socket, and
// their refusals.
func TestRevocationAdminAPI(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ts := servertest.Start(t, servertest.Options{Configure: func(c *config.Config) {
		shortPeriod(c)
		c.General.AdminSocket = sock
	}})
	ctx := context.Background()
	phone := rawLogin(t, ts, "alice", "localhost", "phone")
	ac := adminclient.New(sock)
	defer ac.Close()
	r, err := ac.Revoke(ctx, "alice@localhost", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.JID != "alice@localhost" || r.SessionsEnded != 1 || r.UnreachedNodes == nil || !r.TokensValidFrom.After(r.RevokedAt) || !r.KeptUntil.After(r.RevokedAt) {
		t.Fatalf("POST /v1/revocations = %+v", r)
	}
	if cond, text := phone.streamErrorText(); cond != "not-authorized" || text != "revoked" {
		t.Fatalf("session ended with %q %q", cond, text)
	}
	time.Sleep(time.Until(r.TokensValidFrom))
	desk := rawLogin(t, ts, "alice", "localhost", "desk")
	if k, err := ac.Kick(ctx, "alice@localhost/desk"); err != nil || k.JID != "alice@localhost/desk" {
		t.Fatalf("DELETE /v1/sessions/alice@localhost/desk = %+v, %v", k, err)
	}
	if cond, _ := desk.streamErrorText(); cond != "policy-violation" {
		t.Fatalf("kicked session ended with %q", cond)
	}

	tests := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/v1/revocations", `{"jid":"alice@localhost","resource":"phone"}`, 200, `"resource": "phone"`},
		{"POST", "/v1/revocations", `{"jid":"alice@nowhere.example"}`, 404, "unknown host"},
		{"POST", "/v1/revocations", `{"jid":"localhost"}`, 400, "no user part"},
		{"POST", "/v1/revocations", `{"jid":"alice@localhost/phone"}`, 400, "full JID"},
		{"POST", "/v1/revocations", `{"jid":"alice@localhost","resourc":"x"}`, 400, "unknown field"},
		{"POST", "/v1/revocations", `{}`, 400, "missing"},
		{"GET", "/v1/revocations", ``, 405, "method not allowed"},
		{"DELETE", "/v1/sessions/alice@localhost%2Fgone", ``, 404, "no session"},
		{"DELETE", "/v1/sessions/alice@localhost/gone", ``, 404, "no session"},
		{"DELETE", "/v1/sessions/alice@localhost", ``, 400, "not a full JID"},
		{"DELETE", "/v1/sessions/alice@nowhere.example%2Fx", ``, 404, "unknown host"},
	}
	for _, tc := range tests {
		status, body, _ := rawRequestText(t, sock, tc.method, tc.path, tc.body)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %s: %d %s; want %d and %q", tc.method, tc.path, tc.body, status, body, tc.status, tc.want)
		}
	}
}

// rawRequestText is one HTTP request on the admin socket; the body as text.
func rawRequestText(t *testing.T, sock, method, path, body string) (int, string, http.Header) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://xtokend"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}
