package server_test

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// The wire behaviour of negotiation, as raw bytes over TCP: what a client
// sends (all at once: negotiation reads exactly what each step needs, so a
// pipelined script is answered step by step) and what the server answers,
// up to the stream error (or clean end) that closes the connection.
//
// These cases were recorded against mellium's ReceiveSession before xtokend
// got a negotiator of its own; the cases marked "changed" are where the own
// negotiator deliberately answers differently (RFC 6120's condition, or an
// answer where mellium's path hung up silently).
const (
	wHeader   = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='localhost'>"
	wDecl     = "<?xml version='1.0'?>"
	wAuth     = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>{TOKEN}</auth>"
	wEnd      = "</stream:stream>"
	wBindOpen = "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
	wBindR    = wBindOpen + "<resource>r1</resource></bind></iq>"
	wFailed   = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized></not-authorized></failure>"
	wLogin    = wHeader + wAuth + wHeader

	// What the server answers.
	aMechs    = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>X-TOKEN</mechanism></mechanisms>"
	aSuccess  = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'></success>"
	aBindFeat = "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
	aBound    = "<jid>alice@localhost/r1</jid>"
)

type wireCase struct {
	name string
	opts servertest.Options
	send string
	// want: substrings of the answer, in this order.
	want []string
	// notWant: substrings the answer must not hold.
	notWant []string
	// cond is the stream error condition that ends the stream, "" for a
	// clean end (</stream:stream> without an error), "-" for no answer at
	// all after the last want.
	cond string
}

func wireCases() []wireCase {
	reqTLS := servertest.Options{RequireStartTLS: true}
	twoHosts := servertest.Options{Hosts: []string{"localhost", "example.net"}}
	patient := servertest.Options{NegotiationTimeout: time.Hour}
	return append([]wireCase{
		// Stream headers.
		{name: "declaration", send: wDecl + wLogin + wBindR + wEnd,
			want: []string{"<stream:stream", "from='localhost'", aMechs, aSuccess, aBindFeat, aBound}, cond: ""},
		{name: "no declaration", send: wLogin + wBindR + wEnd,
			want: []string{aMechs, aSuccess, aBindFeat, aBound}, cond: ""},
		{name: "prefix s", send: strings.ReplaceAll(strings.ReplaceAll(wLogin, "stream:", "s:"), "xmlns:stream", "xmlns:s") + wBindR + "</s:stream>",
			want: []string{aMechs, aSuccess, aBindFeat, aBound}, cond: ""},
		{name: "whitespace keep-alives", send: " \n" + wHeader + " \n\t" + wAuth + "  " + wHeader + "\n" + wBindR + " " + wEnd,
			want: []string{aMechs, aSuccess, aBindFeat, aBound}, cond: ""},
		{name: "to in capitals, with a final dot", send: strings.ReplaceAll(wLogin, "to='localhost'", "to='LocalHost.'") + wBindR + wEnd,
			want: []string{"from='localhost'", aSuccess, aBindFeat, aBound}, cond: ""},
		{name: "no to", send: strings.Replace(wHeader, " to='localhost'", "", 1), cond: "host-unknown"},
		{name: "unknown to", send: strings.Replace(wHeader, "localhost", "example.org", 1), cond: "host-unknown"},
		{name: "to with a localpart", send: strings.Replace(wHeader, "localhost", "alice@localhost", 1), cond: "host-unknown"},
		{name: "to with a resource", send: strings.Replace(wHeader, "localhost", "localhost/r", 1), cond: "host-unknown"},
		{name: "to changes after SASL", opts: twoHosts, send: wHeader + wAuth + strings.Replace(wHeader, "localhost", "example.net", 1),
			want: []string{aSuccess}, cond: "host-unknown"}, // changed: mellium hung up silently
		{name: "wrong stream namespace", send: strings.Replace(wHeader, "http://etherx.jabber.org/streams", "urn:example", 1), cond: "invalid-namespace"},
		{name: "wrong default namespace", send: strings.Replace(wHeader, "jabber:client", "urn:example", 1), cond: "invalid-namespace"},
		{name: "no version", send: strings.Replace(wHeader, " version='1.0'", "", 1), cond: "unsupported-version"},
		{name: "version 2.0", send: strings.Replace(wHeader, "'1.0'", "'2.0'", 1), cond: "unsupported-version"},
		{name: "not a stream", send: "<message xmlns='jabber:client'/>", cond: "invalid-namespace"},
		{name: "text before the header", send: "hello" + wHeader, cond: "not-well-formed"}, // changed: mellium hung up silently
		{name: "bad from", send: strings.Replace(wHeader, "version=", "from='a@b@c' version=", 1), cond: "improper-addressing"},

		// STARTTLS.
		{name: "starttls required", opts: reqTLS, send: wHeader + wEnd,
			want: []string{"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required></required></starttls>"}, notWant: []string{"mechanisms"}, cond: ""}, // changed: mellium hung up silently at the end
		{name: "auth before starttls", opts: reqTLS, send: wHeader + wAuth, notWant: []string{"success"}, cond: "policy-violation"},
		{name: "starttls not required", send: wHeader + wEnd, want: []string{aMechs}, notWant: []string{"starttls"}, cond: ""}, // changed: mellium hung up silently at the end
		{name: "starttls not offered", send: wHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", cond: "policy-violation"},

		// Before authentication, before bind.
		{name: "message before auth", send: wHeader + "<message to='bob@localhost'><body>hi</body></message>", cond: "not-authorized"},                          // changed: was policy-violation
		{name: "presence before auth", send: wHeader + "<presence/>", cond: "not-authorized"},                                                                   // changed: was policy-violation
		{name: "iq before auth", send: wHeader + "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>", cond: "not-authorized"},                            // changed: was policy-violation
		{name: "bind before auth", send: wHeader + wBindR, cond: "not-authorized"},                                                                              // changed: was policy-violation
		{name: "message before bind", send: wLogin + "<message to='bob@localhost'><body>hi</body></message>", want: []string{aSuccess}, cond: "not-authorized"}, // changed: was policy-violation
		{name: "iq before bind", send: wLogin + "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>", want: []string{aSuccess}, cond: "not-authorized"},   // changed: was policy-violation
		{name: "unknown element", send: wHeader + "<foo xmlns='urn:example'/>", cond: "unsupported-stanza-type"},                                                // changed: was policy-violation
		{name: "auth after success", send: wLogin + wAuth, want: []string{aSuccess}, cond: "policy-violation"},
		{name: "stream error from the client", send: wHeader + "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", cond: ""}, // changed: was echoed back
		{name: "comment", send: wHeader + "<!-- hi -->", cond: "restricted-xml"},                                                                                 // changed: mellium hung up silently; RFC 6120 4.9.3.18

		// Restricted XML (RFC 6120 section 11.1): restricted-xml, in negotiation and in a session.
		{name: "DTD before the header", send: "<!DOCTYPE stream>" + wHeader, cond: "restricted-xml"},
		{name: "processing instruction before the header", send: "<?foo bar?>" + wHeader, cond: "restricted-xml"},
		{name: "processing instruction", send: wHeader + "<?foo bar?>", cond: "restricted-xml"},
		{name: "DTD", send: wHeader + "<!DOCTYPE x [<!ENTITY a 'b'>]>", cond: "restricted-xml"},
		{name: "entity reference in auth", send: wHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>&a;</auth>", cond: "restricted-xml"},
		{name: "comment in auth", send: wHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'><!-- hi --></auth>", notWant: []string{"success"}, cond: "restricted-xml"},
		{name: "comment in bind", send: wLogin + wBindOpen + "<!-- hi --></bind></iq>", want: []string{aSuccess}, cond: "restricted-xml"},
		{name: "comment in a session", send: wLogin + wBindR + "<message to='alice@localhost'><!-- hi --></message>", want: []string{aBound}, cond: "restricted-xml"},
		{name: "processing instruction in a session", send: wLogin + wBindR + "<?foo?>", want: []string{aBound}, cond: "restricted-xml"},
		{name: "entity reference in a session", send: wLogin + wBindR + "<message to='alice@localhost'><body>&nbsp;</body></message>", want: []string{aBound}, cond: "restricted-xml"},
		{name: "predefined entities in a session", send: wLogin + wBindR + "<iq type='get' id='&amp;&lt;&#65;'><ping xmlns='urn:xmpp:ping'/></iq>" + wEnd, want: []string{aBound}, cond: ""},
		{name: "bad character reference in a session", send: wLogin + wBindR + "<message to='alice@localhost'><body>&#xZZ;</body></message>", want: []string{aBound}, cond: "not-well-formed"},
		{name: "text", send: wHeader + "hello<presence/>", cond: "not-well-formed"},                                           // changed: mellium hung up silently
		{name: "bad XML", send: wHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'></other>", cond: "not-well-formed"}, // changed: mellium hung up silently

		// SASL.
		{name: "initial response", send: wHeader + wAuth + wEnd, want: []string{aSuccess}, cond: ""}, // changed: mellium hung up silently at the end
		{name: "empty auth, challenge, response", send: wHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'/><response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{TOKEN}</response>" + wEnd,
			want: []string{"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'></challenge>", aSuccess}, cond: ""}, // changed: mellium hung up silently at the end
		{name: "auth =", send: wHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>=</auth>" + wEnd,
			want: []string{"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'></challenge>"}, cond: ""},
		{name: "abort", send: wHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'/><abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + wAuth + wEnd,
			want: []string{"<challenge", "<aborted></aborted>", aSuccess}, cond: ""},
		{name: "response without auth", send: wHeader + "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{TOKEN}</response>" + wEnd,
			want: []string{"<malformed-request></malformed-request>"}, notWant: []string{"success"}, cond: ""},
		{name: "wrong mechanism", send: wHeader + strings.Replace(wAuth, "X-TOKEN", "PLAIN", 1) + wEnd,
			want: []string{"<invalid-mechanism></invalid-mechanism>"}, cond: ""},
		{name: "bad base64", send: wHeader + strings.Replace(wAuth, "{TOKEN}", "!!!", 1) + wEnd,
			want: []string{"<incorrect-encoding></incorrect-encoding>"}, cond: ""},
		{name: "bad token", send: wHeader + strings.Replace(wAuth, "{TOKEN}", "{BADTOKEN}", 1) + wEnd,
			want: []string{wFailed}, cond: ""},
		{name: "three failures", send: wHeader + strings.Repeat(strings.Replace(wAuth, "{TOKEN}", "{BADTOKEN}", 1), 3) + wAuth,
			want: []string{wFailed, wFailed, wFailed}, notWant: []string{"success"}, cond: "policy-violation"},
		{name: "element inside auth", send: wHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'><x/></auth>" + wEnd,
			want: []string{"<malformed-request></malformed-request>"}, cond: ""},

		// Bind.
		{name: "bind with resource", send: wLogin + wBindR + wEnd, want: []string{aBound}, cond: ""},
		{name: "bind without resource", send: wLogin + wBindOpen + "</bind></iq>" + wEnd,
			want: []string{"<jid>alice@localhost/xtokend-"}, cond: ""},
		{name: "bind empty resource", send: wLogin + wBindOpen + "<resource></resource></bind></iq>" + wEnd,
			want: []string{"<jid>alice@localhost/xtokend-"}, cond: ""},
		{name: "bind invalid resource", send: wLogin + wBindOpen + "<resource>" + strings.Repeat("r", 1100) + "</resource></bind></iq>" + wEnd,
			want: []string{"<jid>alice@localhost/xtokend-"}, cond: ""},
		{name: "bind escaped resource", send: wLogin + wBindOpen + "<resource>a&amp;b&lt;c&apos;</resource></bind></iq>" + wEnd,
			want: []string{"<jid>alice@localhost/a&amp;b&lt;c&#39;</jid>"}, cond: ""},
		{name: "bind get", send: wLogin + "<iq type='get' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>" + wEnd,
			want: []string{"type='error'", "bad-request"}, cond: ""}, // changed: mellium bound a resource
		{name: "bind twice", send: wLogin + wBindR + wBindR + wEnd, want: []string{aBound}, cond: ""},

		// Ends.
		{name: "end after header", send: wHeader + wEnd, want: []string{aMechs}, cond: ""},           // changed: mellium hung up silently
		{name: "end after SASL", send: wLogin + wEnd, want: []string{aSuccess, aBindFeat}, cond: ""}, // changed: mellium hung up silently
		{name: "oversized", opts: servertest.Options{MaxStanzaSize: 10000},
			send: wHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>" + strings.Repeat("A", 20000), cond: "policy-violation"},
		{name: "deadline", opts: servertest.Options{NegotiationTimeout: 300 * time.Millisecond}, send: wHeader, cond: "connection-timeout"},
		// Before the client's header: the server's header, then the error.
		{name: "deadline, nothing sent", opts: servertest.Options{NegotiationTimeout: 300 * time.Millisecond}, send: "",
			want: []string{"<stream:stream xmlns='jabber:client'"}, notWant: []string{"from="}, cond: "connection-timeout"}, // changed: closed silently
		{name: "deadline, half a header", opts: servertest.Options{NegotiationTimeout: 300 * time.Millisecond}, send: wHeader[:40],
			want: []string{"<stream:stream xmlns='jabber:client'"}, cond: "connection-timeout"}, // changed: closed silently
		{name: "deadline, whitespace only", opts: servertest.Options{NegotiationTimeout: 300 * time.Millisecond}, send: "  \n",
			want: []string{"<stream:stream"}, cond: "connection-timeout"}, // changed: closed silently
		{name: "deadline, after the header", opts: servertest.Options{NegotiationTimeout: 300 * time.Millisecond}, send: wHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'",
			want: []string{aMechs}, cond: "connection-timeout"},

		// Bytes that cannot begin an XML stream are answered at once: with
		// a negotiation deadline of an hour, a late answer is none at all.
		{name: "not XML", opts: patient, send: "hello", want: []string{"<stream:stream"}, cond: "not-well-formed"},       // changed: closed silently after 10 s
		{name: "TLS on the plaintext port", opts: patient, send: "\x16\x03\x01\x00\xa5\x01", cond: "not-well-formed"},    // changed: closed silently after 10 s
		{name: "whitespace then not XML", opts: patient, send: " \r\n\tGET / HTTP/1.1\r\n\r\n", cond: "not-well-formed"}, // changed: closed silently after 10 s
		{name: "byte order mark", send: "\xEF\xBB\xBF" + wHeader + wEnd, want: []string{aMechs}, cond: ""},
	}, sasl2WireCases()...)
}

var wireCond = regexp.MustCompile(`<stream:error><([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'`)

func TestNegotiationWire(t *testing.T) {
	servers := map[string]*servertest.Server{}
	parent := t
	for _, tc := range wireCases() {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.Join(tc.opts.Hosts, ",") + "|" + time.Duration(tc.opts.NegotiationTimeout).String()
			if tc.opts.RequireStartTLS {
				key += "|tls"
			}
			key += "|" + string(rune(tc.opts.MaxStanzaSize))
			ts := servers[key]
			if ts == nil {
				ts = servertest.Start(parent, tc.opts)
				servers[key] = ts
			}
			token := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
			bad := base64.StdEncoding.EncodeToString([]byte("\x00bob\x00" + ts.Mint(t, "alice@localhost")))
			send := strings.NewReplacer("{TOKEN}", token, "{BADTOKEN}", bad).Replace(tc.send)
			conn, err := net.Dial("tcp", ts.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(waitLimit))
			if _, err := conn.Write([]byte(send)); err != nil {
				t.Fatal(err)
			}
			// Quotes normalised: mellium's encoder wrote double ones.
			got := strings.ReplaceAll(readAll(t, conn), `"`, "'")
			if os.Getenv("WIRE_RECORD") != "" {
				t.Logf("answer: %s", got)
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%q in the answer %q", w, got)
				}
			}
			checkWireAnswer(t, got, tc.want, tc.cond)
		})
	}
}

// After STARTTLS: a new stream on TLS offers SASL only; <starttls/> again
// is a feature not offered (policy-violation), and a login works.
func TestNegotiationWireTLS(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	for _, tc := range []struct {
		name string
		send string
		want []string
		cond string
	}{
		{"starttls again", wHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", []string{aMechs}, "policy-violation"},
		{"login", wLogin + wBindR + wEnd, []string{aMechs, aSuccess, aBindFeat, aBound}, ""},
		{"message before auth", wHeader + "<message/>", []string{aMechs}, "not-authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
			c.conn.SetDeadline(time.Now().Add(waitLimit))
			c.d = newDecoder(c.conn)
			c.expect("features")
			c.conn.Write([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
			c.expect("proceed")
			tc2 := tls.Client(c.conn, ts.ClientTLS("localhost"))
			token := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
			if _, err := tc2.Write([]byte(strings.ReplaceAll(tc.send, "{TOKEN}", token))); err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(tc2)
			got := strings.ReplaceAll(string(b), `"`, "'")
			checkWireAnswer(t, got, tc.want, tc.cond)
			if strings.Contains(got, "<starttls") {
				t.Errorf("STARTTLS offered again: %q", got)
			}
		})
	}
}

// checkWireAnswer checks got, the server's whole answer on a stream (quotes
// made single): it has want in this order, then the stream error cond (""
// for none), and ends with the stream's end.
func checkWireAnswer(t *testing.T, got string, want []string, cond string) {
	t.Helper()
	rest := wantInOrder(t, got, want...)
	ended := ""
	if m := wireCond.FindStringSubmatch(rest); m != nil {
		ended = m[1]
	}
	if ended != cond || !strings.HasSuffix(got, "</stream:stream>") {
		t.Errorf("ended with %q, want %q; answer %q", ended, cond, got)
	}
}
