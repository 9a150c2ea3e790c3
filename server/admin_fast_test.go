package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server/servertest"
)

// adminCall asks the admin API on socket sock: the status and the body.
func adminCall(t *testing.T, sock, method, path, body string) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequest(method, "http://xtokend"+path, strings.NewReader(body))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.Join(strings.Fields(string(b)), "") // compact: the API indents
}

// TestAdminFAST: the admin API lists a user's FAST tokens by user agent,
// never the tokens; it revokes one user agent's or all; a revocation of the
// user drops them too. A revoked token logs in no more.
func TestAdminFAST(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Configure: func(c *config.Config) {
		c.General.AdminSocket = "xtokend.sock"
	}})
	sock := ts.Config.AdminSocketPath()
	token := func(ua string) string {
		t.Helper()
		x := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
		got := wireScript(t, ts, wAuth2Open+"<initial-response>"+x+"</initial-response><user-agent id='"+ua+"'><software>wire</software></user-agent>"+
			"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>")
		return tokenIn(t, got)
	}
	t1, t2 := token("ua-one"), token("ua-two")

	status, body := adminCall(t, sock, "GET", "/v1/fast/alice@localhost", "")
	var list struct {
		JID    string `json:"jid"`
		Tokens []struct {
			UserAgent string `json:"user_agent"`
			Software  string `json:"software"`
			Created   string `json:"created"`
			Expires   string `json:"expires"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || status != 200 {
		t.Fatalf("list: %d %s", status, body)
	}
	if list.JID != "alice@localhost" || len(list.Tokens) != 2 || list.Tokens[0].UserAgent != "ua-one" || list.Tokens[1].UserAgent != "ua-two" ||
		list.Tokens[0].Software != "wire" || list.Tokens[0].Created == "" || list.Tokens[0].Expires <= list.Tokens[0].Created {
		t.Fatalf("list: %s", body)
	}
	if strings.Contains(body, t1) || strings.Contains(body, t2) {
		t.Fatalf("the list shows a token: %s", body)
	}

	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/v1/fast/nobody@localhost", 200, `"tokens":[]`},
		{"GET", "/v1/fast/alice@example.org", 404, "unknownhost"},
		{"GET", "/v1/fast/localhost", 400, "nouserpart"},
		{"DELETE", "/v1/fast/alice@localhost/ua-one", 200, `"user_agent":"ua-one","revoked":1,"unreached_nodes":[]`},
		{"DELETE", "/v1/fast/alice@localhost/ua-one", 200, `"revoked":0`},
	} {
		status, body := adminCall(t, sock, tc.method, tc.path, "")
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.path, status, body, tc.status, tc.want)
		}
	}
	wantIn(t, wireScript(t, ts, fastAuth(t1, "ua-one", "")), aNotAuth2)
	wantIn(t, wireScript(t, ts, fastAuth(t2, "ua-two", " count='1'")), aSuccess2)

	// A revocation of the user ends FAST logins too.
	if status, body := adminCall(t, sock, "POST", "/v1/revocations", `{"jid":"alice@localhost"}`); status != 200 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	wantIn(t, wireScript(t, ts, fastAuth(t2, "ua-two", " count='2'")), aNotAuth2)
	if _, body := adminCall(t, sock, "GET", "/v1/fast/alice@localhost", ""); !strings.Contains(body, `"tokens":[]`) {
		t.Fatalf("tokens left after the revocation: %s", body)
	}
	if _, body := adminCall(t, sock, "DELETE", "/v1/fast/alice@localhost", ""); !strings.Contains(body, `"revoked":0`) {
		t.Fatalf("delete all: %s", body)
	}
	if strings.Contains(ts.Logs(), t1) || strings.Contains(ts.Logs(), t2) {
		t.Fatal("a FAST token is in the log")
	}
}
