package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server/servertest"
)

// FAST (XEP-0484) on the wire: a token asked for in an X-TOKEN login,
// then used (once per count), rotated, refused for another user agent,
// invalidated.

var wireFASTToken = regexp.MustCompile(`<token xmlns='urn:xmpp:fast:0' expiry='[0-9TZ:-]+' token='([A-Za-z0-9_-]+)'/>`)

// wireScript sends a stream header, send and the stream's end, and
// returns all the server answered, quotes normalised.
func wireScript(t *testing.T, ts *servertest.Server, send string) string {
	t.Helper()
	conn := rawDial(t, ts, "")
	if _, err := conn.Write([]byte(wHeader + send + wEnd)); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(readAll(t, conn), `"`, "'")
}

// fastAuth is an <authenticate/> with the FAST token for alice, from user
// agent ua, with the <fast/> attributes attrs and a Bind2 request.
func fastAuth(token, ua, attrs string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("Initiator"))
	resp := base64.StdEncoding.EncodeToString(append([]byte("alice\x00"), m.Sum(nil)...))
	return "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>" + resp + "</initial-response>" +
		"<user-agent id='" + ua + "'/>" + wBind2 + "<fast xmlns='urn:xmpp:fast:0'" + attrs + "/></authenticate>"
}

func responder(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("Responder"))
	return "<additional-data>" + base64.StdEncoding.EncodeToString(m.Sum(nil)) + "</additional-data>"
}

func tokenIn(t *testing.T, answer string) string {
	t.Helper()
	m := wireFASTToken.FindStringSubmatch(answer)
	if m == nil {
		t.Fatalf("no FAST token in %q", answer)
	}
	return m[1]
}

func wantIn(t *testing.T, answer string, want ...string) {
	t.Helper()
	rest := answer
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("no %q (in this order) in the answer %q", w, answer)
		}
		rest = rest[i+len(w):]
	}
}

func TestFASTWire(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	const ua = "d4565fa7-4d72-4749-b3d3-740edbf87770"
	xtoken := func() string {
		return base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
	}
	request := "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>"

	// A token is given only to a login that names its user agent.
	got := wireScript(t, ts, strings.Replace(wAuth2Open+wInitial+request+"</authenticate>", "{TOKEN}", xtoken(), 1))
	wantIn(t, got, aSuccess2, aBare)
	if strings.Contains(got, "<token") {
		t.Fatalf("a token without a user agent id: %q", got)
	}

	got = wireScript(t, ts, strings.Replace(wAuth2Open+wInitial+wUA+wBind2+request+"</authenticate>", "{TOKEN}", xtoken(), 1))
	wantIn(t, got, aSuccess2, aFull, "<bound xmlns='urn:xmpp:bind:0'></bound><token")
	t1 := tokenIn(t, got)
	if strings.Contains(ts.Logs(), t1) {
		t.Fatal("the FAST token is in the log")
	}

	// Logged in by the token, no X-TOKEN: the server proves it knows the
	// token, and rotates it (no count: this was its one count-less use).
	got = wireScript(t, ts, fastAuth(t1, ua, "")+wPing2)
	wantIn(t, got, aSuccess2, responder(t1), aFull, "<bound xmlns='urn:xmpp:bind:0'></bound><token", aPong)
	t2 := tokenIn(t, got)
	if t2 == t1 {
		t.Fatal("the token was not rotated")
	}

	cases := []struct {
		name, send string
		want       []string
		notWant    string
	}{
		{"replay of the used token", fastAuth(t1, ua, ""), []string{aNotAuth2}, "success"},
		{"the used token with count 0", fastAuth(t1, ua, " count='0'"), []string{aNotAuth2}, "success"},
		{"another user agent", fastAuth(t2, "other", ""), []string{aNotAuth2}, "success"},
		{"another mechanism's name", strings.Replace(fastAuth(t2, ua, ""), "HT-SHA-256-NONE", "HT-SHA-256-UNIQ", 1), []string{failure2("invalid-mechanism")}, "success"},
		// Channel binding needs the TLS the server terminates: not offered,
		// not accepted on plaintext.
		{"tls-server-end-point on plaintext", strings.Replace(fastAuth(t2, ua, ""), "HT-SHA-256-NONE", "HT-SHA-256-ENDP", 1), []string{failure2("invalid-mechanism")}, "success"},
		{"tls-exporter on plaintext", strings.Replace(fastAuth(t2, ua, ""), "HT-SHA-256-NONE", "HT-SHA-256-EXPR", 1), []string{failure2("invalid-mechanism")}, "success"},
		{"a token never issued", fastAuth("x"+t2, ua, ""), []string{aNotAuth2}, "success"},
		// The previous token stays acceptable during the rotation, with a
		// higher count, for a client that lost the success.
		{"the previous token with a higher count", fastAuth(t1, ua, " count='7'"), []string{aSuccess2, responder(t1), "<token"}, ""},
		{"the same count again", fastAuth(t1, ua, " count='7'"), []string{aNotAuth2}, "success"},
	}
	for _, tc := range cases {
		got := wireScript(t, ts, tc.send)
		wantIn(t, got, tc.want...)
		if tc.notWant != "" && strings.Contains(got, tc.notWant) {
			t.Fatalf("%s: %q in %q", tc.name, tc.notWant, got)
		}
		if tc.name == "the previous token with a higher count" {
			t2 = tokenIn(t, got)
		}
	}

	// The new token ends the rotation: the old one is gone.
	got = wireScript(t, ts, fastAuth(t2, ua, " count='1'"))
	wantIn(t, got, aSuccess2, responder(t2))
	if strings.Contains(got, "<token") {
		t.Fatalf("a counted use of a young token rotated it: %q", got)
	}
	wantIn(t, wireScript(t, ts, fastAuth(t1, ua, " count='100'")), aNotAuth2)

	// invalidate='true': this login is the token's last.
	got = wireScript(t, ts, fastAuth(t2, ua, " count='2' invalidate='true'"))
	wantIn(t, got, aSuccess2)
	if strings.Contains(got, "<token") {
		t.Fatalf("a token after invalidate: %q", got)
	}
	wantIn(t, wireScript(t, ts, fastAuth(t2, ua, " count='3'")), aNotAuth2)
}

// One replay cache for RFC 6120's SASL and SASL2: an X-TOKEN used on one
// is refused on the other.
func TestSASL2SharesReplayCache(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	for _, order := range [][2]string{{wAuth, wAuth2}, {wAuth2, wAuth}} {
		token := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
		first := wireScript(t, ts, strings.Replace(order[0], "{TOKEN}", token, 1))
		if !strings.Contains(first, "<success") {
			t.Fatalf("first login failed: %q", first)
		}
		second := wireScript(t, ts, strings.Replace(order[1], "{TOKEN}", token, 1))
		if strings.Contains(second, "<success") || !strings.Contains(second, "not-authorized") {
			t.Fatalf("replayed token accepted: %q", second)
		}
	}
}

// A SASL2 login resumes a session (XEP-0198 inline) in the same round
// trip: the <success/> names the session's full JID and carries
// <resumed/>, and no resource is bound. The login is by a FAST token: no
// new X-TOKEN for a reconnection.
func TestSASL2InlineResume(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	xtoken := func() string {
		return base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
	}
	conn := rawDial(t, ts, "")
	enable := strings.Replace(wAuth2Bind, "</bind>", "<enable xmlns='urn:xmpp:sm:3' resume='true'/></bind><request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>", 1)
	conn.Write([]byte(wHeader + strings.Replace(enable, "{TOKEN}", xtoken(), 1)))
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), "</success>") {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	m := regexp.MustCompile(`<authorization-identifier>([^<]+)</authorization-identifier>.*<enabled xmlns='urn:xmpp:sm:3' id='([0-9a-f]+)'`).FindStringSubmatch(string(got))
	if m == nil {
		t.Fatalf("no full JID and id in %q", got)
	}
	full, id := m[1], m[2]
	token := tokenIn(t, strings.ReplaceAll(string(got), `"`, "'"))
	conn.Close() // lost, not ended: the session waits for a resumption

	resume := strings.Replace(fastAuth(token, "d4565fa7-4d72-4749-b3d3-740edbf87770", ""), wBind2, "<resume xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/>"+wBind2, 1)
	answer := wireScript(t, ts, resume+wPing2)
	wantIn(t, answer, aSuccess2, responder(token), "<authorization-identifier>"+full+"</authorization-identifier><resumed xmlns='urn:xmpp:sm:3' previd='"+id+"' h='0'/><token", aPong)
	if strings.Contains(answer, "<bound") {
		t.Fatalf("bound beside a resumption: %q", answer)
	}
}

// The failed-login limits hold on SASL2, for X-TOKEN and FAST alike: over
// them a failure is temporary-auth-failure, and a valid token still logs in.
func TestSASL2FailedLoginLimit(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Configure: func(c *config.Config) {
		c.Limits = config.LimitOptions{FailedLoginsPerMinute: 0.001, FailedLoginBurst: 2}
	}})
	bad := func() string {
		return strings.Replace(wAuth2, "{TOKEN}", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+ts.Mint(t, "bob@localhost"))), 1)
	}
	got := wireScript(t, ts, bad()+bad()+bad())
	wantIn(t, got, aNotAuth2, aNotAuth2, failure2("temporary-auth-failure"))
	got = wireScript(t, ts, fastAuth("no-such-token", "ua", ""))
	wantIn(t, got, failure2("temporary-auth-failure"))
	got = wireScript(t, ts, strings.Replace(wAuth2, "{TOKEN}", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+ts.Mint(t, "alice@localhost"))), 1))
	wantIn(t, got, aSuccess2)
}

// PLAIN inside SASL2 where mod_auth_token has plain = true: offered after
// X-TOKEN, a token as the password, one replay cache with X-TOKEN's.
func TestSASL2Plain(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Plain: true})
	token := ts.Mint(t, "alice@localhost")
	resp := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + token))
	plain := strings.Replace(strings.Replace(wAuth2Bind, "X-TOKEN", "PLAIN", 1), "{TOKEN}", resp, 1)
	got := wireScript(t, ts, plain)
	wantIn(t, got, "<authentication xmlns='urn:xmpp:sasl:2'><mechanism>X-TOKEN</mechanism><mechanism>PLAIN</mechanism>", aSuccess2, aFull, aBound2)
	got = wireScript(t, ts, strings.Replace(wAuth2, "{TOKEN}", resp, 1))
	wantIn(t, got, aNotAuth2)
}

// A Bind2 bind checks revocations as a bind iq does: a revoked full JID is
// refused (not-authorized, "revoked") and the stream ends.
func TestBind2Revoked(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	xtoken := func() string {
		return base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
	}
	got := wireScript(t, ts, strings.Replace(wAuth2Bind, "{TOKEN}", xtoken(), 1))
	m := regexp.MustCompile(`<authorization-identifier>alice@localhost/([^<]+)</authorization-identifier>`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("not bound: %q", got)
	}
	if _, err := ts.Revoke(context.Background(), "alice@localhost", m[1]); err != nil {
		t.Fatal(err)
	}
	got = wireScript(t, ts, strings.Replace(wAuth2Bind, "{TOKEN}", xtoken(), 1)+wPing2)
	wantIn(t, got, "<failure xmlns='urn:xmpp:sasl:2'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><text>revoked</text></failure>")
	if strings.Contains(got, "<success") || strings.Contains(got, aPong) {
		t.Fatalf("bound after the revocation: %q", got)
	}
}
