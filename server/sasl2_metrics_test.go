package server_test

import (
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
)

// SASL2 and FAST logins count in the login metrics as RFC 6120's do, and
// no FAST token shows in them.
func TestSASL2LoginMetrics(t *testing.T) {
	ts := startOpsServer(t, newOpsKeys(t), opsOptions{configure: func(c *config.Config) { c.TLS.RequireStartTLS = false }})
	script := func(send string) string {
		t.Helper()
		conn, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(waitLimit))
		conn.Write([]byte(wHeader + send + wEnd))
		return strings.ReplaceAll(readAll(t, conn), `"`, "'")
	}
	x := func(jid string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.mint(t, jid)))
	}
	const ua = "metrics-agent"
	got := script(wAuth2Open + "<initial-response>" + x("alice@localhost") + "</initial-response><user-agent id='" + ua + "'/>" +
		"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>")
	token := tokenIn(t, got)
	wantIn(t, script(strings.Replace(wAuth2, "{TOKEN}", x("bob@localhost"), 1)), aNotAuth2)
	wantIn(t, script(fastAuth(token, ua, "")), aSuccess2)
	wantIn(t, script(fastAuth(token, ua, "")), aNotAuth2) // its count-less use is spent

	body := ts.scrape(t)
	for series, want := range map[string]float64{
		`xtokend_logins_total{host="localhost",result="success"}`:                  2,
		`xtokend_logins_total{host="localhost",result="failure"}`:                  2,
		`xtokend_sasl_failures_total{condition="not-authorized",host="localhost"}`: 2,
	} {
		if v := opsMetric(t, body, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	if strings.Contains(body, token) || strings.Contains(ts.logs.String(), token) {
		t.Fatal("the FAST token is in the metrics or the log")
	}
}
