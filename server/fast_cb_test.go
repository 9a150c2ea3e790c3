package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// tlsScript dials ts, upgrades with STARTTLS, and sends a stream header and
// what script makes of the connection's tls-exporter value, then the
// stream's end: all the server answered on TLS, quotes normalised.
func tlsScript(t *testing.T, ts *servertest.Server, maxVersion uint16, script func(exporter []byte) string) string {
	t.Helper()
	c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	c.conn.SetDeadline(time.Now().Add(waitLimit))
	c.d = newDecoder(c.conn)
	c.expect("features")
	c.conn.Write([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
	c.expect("proceed")
	conf := ts.ClientTLS("localhost")
	conf.MaxVersion = maxVersion
	tc := tls.Client(c.conn, conf)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	cs := tc.ConnectionState()
	exporter, _ := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if _, err := tc.Write([]byte(wHeader + script(exporter) + wEnd)); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(tc)
	return strings.ReplaceAll(string(b), `"`, "'")
}

// fastAuthCB is fastAuth for mechanism with channel binding data cb.
func fastAuthCB(mechanism, token, ua string, cb []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("Initiator"))
	m.Write(cb)
	resp := base64.StdEncoding.EncodeToString(append([]byte("alice\x00"), m.Sum(nil)...))
	return "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='" + mechanism + "'><initial-response>" + resp + "</initial-response>" +
		"<user-agent id='" + ua + "'/><fast xmlns='urn:xmpp:fast:0'/></authenticate>"
}

// TestFASTChannelBinding: on TLS 1.3 HT-SHA-256-EXPR is offered first; a
// token asked for with it logs in only on a connection whose tls-exporter
// value the response carries, only with that mechanism, and the server's
// answer is bound the same way. On TLS 1.2 and on plaintext it is neither
// offered nor accepted.
func TestFASTChannelBinding(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	const ua = "cb-agent"
	xtoken := func() string {
		return base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
	}
	offered := "<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-EXPR</mechanism><mechanism>HT-SHA-256-NONE</mechanism></fast>"
	got := tlsScript(t, ts, 0, func([]byte) string {
		return wAuth2Open + "<initial-response>" + xtoken() + "</initial-response><user-agent id='" + ua + "'/>" +
			"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-EXPR'/></authenticate>"
	})
	wantIn(t, got, offered, aSuccess2)
	token := tokenIn(t, got)

	// The response of another connection (its exporter) is refused.
	var stale []byte
	got = tlsScript(t, ts, 0, func(cb []byte) string { stale = cb; return "" })
	got = tlsScript(t, ts, 0, func([]byte) string { return fastAuthCB("HT-SHA-256-EXPR", token, ua, stale) })
	wantIn(t, got, aNotAuth2)
	// Not with another mechanism either.
	got = tlsScript(t, ts, 0, func([]byte) string { return fastAuthCB("HT-SHA-256-NONE", token, ua, nil) })
	wantIn(t, got, aNotAuth2)

	var cb []byte
	got = tlsScript(t, ts, 0, func(e []byte) string { cb = e; return fastAuthCB("HT-SHA-256-EXPR", token, ua, e) })
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("Responder"))
	m.Write(cb)
	wantIn(t, got, aSuccess2, "<additional-data>"+base64.StdEncoding.EncodeToString(m.Sum(nil))+"</additional-data>", "<token")

	// TLS 1.2: no tls-exporter (RFC 9266), so no EXPR.
	got = tlsScript(t, ts, tls.VersionTLS12, func([]byte) string { return fastAuthCB("HT-SHA-256-EXPR", tokenIn(t, got), ua, nil) })
	wantIn(t, got, "<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-NONE</mechanism></fast>", failure2("invalid-mechanism"))
	if strings.Contains(got, "EXPR</mechanism>") {
		t.Fatalf("EXPR offered on TLS 1.2: %q", got)
	}
}
