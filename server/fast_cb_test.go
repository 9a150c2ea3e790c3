package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// tlsBindings are a TLS connection's channel binding values, as the
// client computes them.
type tlsBindings struct {
	exporter []byte // tls-exporter (RFC 9266); nil on TLS 1.2
	endPoint []byte // tls-server-end-point (RFC 5929)
	resumed  bool   // the TLS session was resumed
}

// tlsScript dials ts, upgrades with STARTTLS (TLS at most maxVersion, and
// exactly it when not 0), and sends a stream header and what script makes
// of the connection's channel bindings, then the stream's end: all the
// server answered on TLS, quotes normalised.
func tlsScript(t *testing.T, ts *servertest.Server, maxVersion uint16, script func(tlsBindings) string) string {
	t.Helper()
	conf := ts.ClientTLS("localhost")
	conf.MaxVersion = maxVersion
	return tlsScriptConf(t, ts, conf, script)
}

// tlsScriptConf is tlsScript with the client's TLS configuration conf.
func tlsScriptConf(t *testing.T, ts *servertest.Server, conf *tls.Config, script func(tlsBindings) string) string {
	t.Helper()
	maxVersion := conf.MaxVersion
	c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	c.conn.SetDeadline(time.Now().Add(waitLimit))
	c.d = newDecoder(c.conn)
	c.expect("features")
	c.conn.Write([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
	c.expect("proceed")
	tc := tls.Client(c.conn, conf)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	cs := tc.ConnectionState()
	if maxVersion != 0 && cs.Version != maxVersion {
		t.Fatalf("TLS %x, want %x", cs.Version, maxVersion)
	}
	b := tlsBindings{resumed: cs.DidResume}
	if cs.Version == tls.VersionTLS13 {
		b.exporter, _ = cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	}
	// The test certificate is ECDSA with SHA-256: RFC 5929's hash is SHA-256.
	if alg := cs.PeerCertificates[0].SignatureAlgorithm; alg != x509.ECDSAWithSHA256 {
		t.Fatalf("test certificate signed with %v", alg)
	}
	sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
	b.endPoint = sum[:]
	if _, err := tc.Write([]byte(wHeader + script(b) + wEnd)); err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(tc)
	return strings.ReplaceAll(string(answer), `"`, "'")
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

// TestFASTChannelBinding: where the server terminates TLS, FAST offers
// HT-SHA-256-EXPR (tls-exporter, TLS 1.3 only) and HT-SHA-256-ENDP
// (tls-server-end-point, TLS 1.2 and 1.3), EXPR first, then -NONE. A token
// asked for with one of them logs in only with that mechanism and the
// binding of the connection it is used on, and the server's answer is bound
// the same way. The certificate is the same on every connection, so an
// ENDP token asked for on TLS 1.3 serves on TLS 1.2 too.
func TestFASTChannelBinding(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	xtoken := func() string {
		return base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
	}
	offered := map[uint16]string{
		tls.VersionTLS13: "<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-EXPR</mechanism><mechanism>HT-SHA-256-ENDP</mechanism><mechanism>HT-SHA-256-NONE</mechanism></fast>",
		tls.VersionTLS12: "<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-ENDP</mechanism><mechanism>HT-SHA-256-NONE</mechanism></fast>",
	}
	// Another connection's exporter: the same length, not this one's.
	var stale tlsBindings
	tlsScript(t, ts, tls.VersionTLS13, func(b tlsBindings) string { stale = b; return "" })
	wrongEndPoint := sha256.Sum256([]byte("another certificate"))

	cases := []struct {
		name      string
		asked     uint16 // the TLS version the token is asked for on
		used      uint16 // and used on
		mechanism string
		bind      func(tlsBindings) []byte // the client's binding data
		wrong     func(tlsBindings) []byte // a binding the server must refuse
	}{
		{"EXPR on TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, "HT-SHA-256-EXPR",
			func(b tlsBindings) []byte { return b.exporter }, func(tlsBindings) []byte { return stale.exporter }},
		{"ENDP on TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, "HT-SHA-256-ENDP",
			func(b tlsBindings) []byte { return b.endPoint }, func(tlsBindings) []byte { return wrongEndPoint[:] }},
		{"ENDP on TLS 1.2", tls.VersionTLS12, tls.VersionTLS12, "HT-SHA-256-ENDP",
			func(b tlsBindings) []byte { return b.endPoint }, func(tlsBindings) []byte { return wrongEndPoint[:] }},
		{"ENDP asked on TLS 1.3, used on 1.2", tls.VersionTLS13, tls.VersionTLS12, "HT-SHA-256-ENDP",
			func(b tlsBindings) []byte { return b.endPoint }, func(b tlsBindings) []byte { return nil }},
		{"ENDP, the exporter in its place", tls.VersionTLS13, tls.VersionTLS13, "HT-SHA-256-ENDP",
			func(b tlsBindings) []byte { return b.endPoint }, func(b tlsBindings) []byte { return b.exporter }},
	}
	for i, tc := range cases {
		ua := fmt.Sprint("cb-agent-", i)
		got := tlsScript(t, ts, tc.asked, func(tlsBindings) string {
			return wAuth2Open + "<initial-response>" + xtoken() + "</initial-response><user-agent id='" + ua + "'/>" +
				"<request-token xmlns='urn:xmpp:fast:0' mechanism='" + tc.mechanism + "'/></authenticate>"
		})
		wantIn(t, got, offered[tc.asked], aSuccess2)
		token := tokenIn(t, got)

		// The wrong binding is refused, and so is the right one under
		// another mechanism.
		got = tlsScript(t, ts, tc.used, func(b tlsBindings) string { return fastAuthCB(tc.mechanism, token, ua, tc.wrong(b)) })
		if !strings.Contains(got, aNotAuth2) || strings.Contains(got, "success") {
			t.Fatalf("%s: the wrong binding: %q", tc.name, got)
		}
		got = tlsScript(t, ts, tc.used, func(b tlsBindings) string { return fastAuthCB("HT-SHA-256-NONE", token, ua, nil) })
		if !strings.Contains(got, aNotAuth2) || strings.Contains(got, "success") {
			t.Fatalf("%s: as HT-SHA-256-NONE: %q", tc.name, got)
		}

		var cb []byte
		got = tlsScript(t, ts, tc.used, func(b tlsBindings) string { cb = tc.bind(b); return fastAuthCB(tc.mechanism, token, ua, cb) })
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("Responder"))
		m.Write(cb)
		wantIn(t, got, offered[tc.used], aSuccess2, "<additional-data>"+base64.StdEncoding.EncodeToString(m.Sum(nil))+"</additional-data>", "<token")
		if strings.Contains(ts.Logs(), token) {
			t.Fatalf("%s: the FAST token is in the log", tc.name)
		}
	}

	// TLS 1.2: no tls-exporter (RFC 9266), so no EXPR.
	got := tlsScript(t, ts, tls.VersionTLS12, func(tlsBindings) string {
		return fastAuthCB("HT-SHA-256-EXPR", "whatever", "cb-agent-0", nil)
	})
	wantIn(t, got, offered[tls.VersionTLS12], failure2("invalid-mechanism"))
	if strings.Contains(got, "EXPR</mechanism>") {
		t.Fatalf("EXPR offered on TLS 1.2: %q", got)
	}
}

// On a resumed TLS session the server shows no certificate; the client's
// tls-server-end-point is still the session's certificate's hash, and the
// server's the same (one certificate).
func TestFASTEndPointResumedTLS(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conf := ts.ClientTLS("localhost")
		conf.MinVersion, conf.MaxVersion = version, version
		conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		ua := fmt.Sprint("resumed-", version)
		got := tlsScriptConf(t, ts, conf, func(tlsBindings) string {
			xtoken := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
			return wAuth2Open + "<initial-response>" + xtoken + "</initial-response><user-agent id='" + ua + "'/>" +
				"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-ENDP'/></authenticate>"
		})
		wantIn(t, got, aSuccess2)
		token := tokenIn(t, got)
		var resumed bool
		got = tlsScriptConf(t, ts, conf, func(b tlsBindings) string {
			resumed = b.resumed
			return fastAuthCB("HT-SHA-256-ENDP", token, ua, b.endPoint)
		})
		if !resumed {
			t.Fatalf("TLS %x: the second connection did not resume", version)
		}
		wantIn(t, got, "<mechanism>HT-SHA-256-ENDP</mechanism>", aSuccess2, "<additional-data>")
	}
}
