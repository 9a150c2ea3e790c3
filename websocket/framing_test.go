package websocket

import "testing"

// scanCases pin what one message may be. cond "" means accepted; elem is
// then the element passed on.
var scanCases = []struct {
	name, msg string
	cond      string
	kind      int
	elem      string
}{
	{"open", `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0"/>`, "", kindOpen, ""},
	{"open prefixed", `<f:open xmlns:f="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0"/>`, "", kindOpen, ""},
	{"close", `<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`, "", kindClose, ""},
	{"stanza", `<message xmlns="jabber:client" to="a@b"><body>x &amp; y &#x263A; &#65;</body></message>`, "", kindElement, ""},
	{"whitespace around", " \r\n\t<presence/>\n ", "", kindElement, "<presence/>"},
	{"xml declaration", `<?xml version="1.0"?><iq type="get" id="1"><ping xmlns="urn:xmpp:ping"/></iq>`, "", kindElement, `<iq type="get" id="1"><ping xmlns="urn:xmpp:ping"/></iq>`},
	{"cdata", `<message><body><![CDATA[<not a tag> & ]]></body></message>`, "", kindElement, ""},
	{"quotes in values", `<message a='x"y' b="x'y>z"/>`, "", kindElement, ""},
	{"utf-8 names and text", `<ü>naïve 日本</ü>`, "", kindElement, ""},
	{"end tag with space", `<a><b></b ></a >`, "", kindElement, ""},

	{"open wrong namespace", `<open xmlns="jabber:client" to="example.com" version="1.0"/>`, CondInvalidNamespace, 0, ""},
	{"open no namespace", `<open to="example.com" version="1.0"/>`, CondInvalidNamespace, 0, ""},
	{"close wrong namespace", `<close xmlns="http://etherx.jabber.org/streams"/>`, CondInvalidNamespace, 0, ""},

	{"empty", ``, CondNotWellFormed, 0, ""},
	{"only whitespace", " \n ", CondNotWellFormed, 0, ""},
	{"text", `hello`, CondNotWellFormed, 0, ""},
	{"text before", `hi <presence/>`, CondNotWellFormed, 0, ""},
	{"text after", `<presence/> hi`, CondNotWellFormed, 0, ""},
	{"two elements", `<presence/><presence/>`, CondNotWellFormed, 0, ""},
	{"two elements spaced", "<a></a>\n<b/>", CondNotWellFormed, 0, ""},
	{"partial element", `<message><body>hi</body>`, CondNotWellFormed, 0, ""},
	{"partial tag", `<message to="a@b`, CondNotWellFormed, 0, ""},
	{"stream header", `<stream:stream xmlns:stream="http://etherx.jabber.org/streams" to="example.com">`, CondNotWellFormed, 0, ""},
	{"stream end", `</stream:stream>`, CondNotWellFormed, 0, ""},
	{"mismatched end", `<a><b></a></b>`, CondNotWellFormed, 0, ""},
	{"unquoted attribute", `<a b=c/>`, CondNotWellFormed, 0, ""},
	{"attributes not spaced", `<a b="1"c="2"/>`, CondNotWellFormed, 0, ""},
	{"lt in attribute", `<a b="<"/>`, CondNotWellFormed, 0, ""},
	{"bare ampersand", `<a>x & y</a>`, CondNotWellFormed, 0, ""},
	{"bad char ref", `<a>&#xZZ;</a>`, CondNotWellFormed, 0, ""},
	{"control character", "<a>\x01</a>", CondNotWellFormed, 0, ""},
	{"not utf-8", "<a>\xff</a>", CondNotWellFormed, 0, ""},
	{"no name", `< a/>`, CondNotWellFormed, 0, ""},
	{"unterminated cdata", `<a><![CDATA[x</a>`, CondNotWellFormed, 0, ""},

	{"comment", `<a><!-- hi --></a>`, CondRestrictedXML, 0, ""},
	{"comment alone", `<!-- hi -->`, CondRestrictedXML, 0, ""},
	{"processing instruction", `<a><?php echo 1; ?></a>`, CondRestrictedXML, 0, ""},
	{"doctype", `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`, CondRestrictedXML, 0, ""},
	{"entity reference", `<a>&nbsp;</a>`, CondRestrictedXML, 0, ""},
	{"entity in attribute", `<a b="&x;"/>`, CondRestrictedXML, 0, ""},
}

func TestScanMessage(t *testing.T) {
	for _, tc := range scanCases {
		t.Run(tc.name, func(t *testing.T) {
			var m message
			err := scanMessage([]byte(tc.msg), &m)
			if tc.cond != "" {
				if err == nil {
					t.Fatalf("accepted; want %s", tc.cond)
				}
				if err.Condition != tc.cond {
					t.Fatalf("condition %s (%s); want %s", err.Condition, err.Text, tc.cond)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if m.kind != tc.kind {
				t.Fatalf("kind %d; want %d", m.kind, tc.kind)
			}
			want := tc.elem
			if want == "" {
				want = tc.msg
			}
			if got := tc.msg[m.start:m.end]; got != want {
				t.Fatalf("element %q; want %q", got, want)
			}
		})
	}
}

func TestAppendHeader(t *testing.T) {
	for _, tc := range []struct{ open, want string }{
		{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0" xml:lang="en"/>`,
			`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="example.com" version="1.0" xml:lang="en">`},
		// Order of RFC 6120, other attributes dropped, single quotes turned
		// into double ones with the double quote inside escaped, references kept.
		{`<open version='1.0' xml:lang='e"n' extra='x' to='a&amp;b&#34;c' from='juliet@example.com' xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`,
			`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="a&amp;b&#34;c" from="juliet@example.com" version="1.0" xml:lang="e&quot;n">`},
		{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`,
			`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`},
	} {
		var m message
		if err := scanMessage([]byte(tc.open), &m); err != nil {
			t.Fatalf("%s: %v", tc.open, err)
		}
		if got := string(appendHeader(nil, []byte(tc.open), &m)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.open, got, tc.want)
		}
	}
}

func TestStandaloneAttr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<message to="a@b"><body>x</body></message>`, `<message xmlns="jabber:client" to="a@b"><body>x</body></message>`},
		{`<presence/>`, `<presence xmlns="jabber:client"/>`},
		{`<iq type='result' id='x'/>`, `<iq xmlns="jabber:client" type='result' id='x'/>`},
		{`<message xmlns="jabber:client"/>`, `<message xmlns="jabber:client"/>`},
		{`<message id="a xmlns='b'" xmlns='jabber:client'/>`, `<message id="a xmlns='b'" xmlns='jabber:client'/>`},
		{`<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/></stream:features>`, `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/></stream:features>`},
		{`<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`, `<stream:error xmlns:stream="http://etherx.jabber.org/streams"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`},
		{`<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>`, `<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>`},
		{`<messagex/>`, `<messagex/>`},
	} {
		got := tc.in
		if at, attr := standaloneAttr([]byte(tc.in)); attr != "" {
			got = tc.in[:at] + attr + tc.in[at:]
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
