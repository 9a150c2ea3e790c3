package xmltok

import (
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

const (
	nsStream = "http://etherx.jabber.org/streams"
	nsClient = "jabber:client"
)

func start(space, local string, attr ...xml.Attr) xml.StartElement {
	if attr == nil {
		attr = []xml.Attr{}
	}
	return xml.StartElement{Name: xml.Name{Space: space, Local: local}, Attr: attr}
}

func end(space, local string) xml.EndElement {
	return xml.EndElement{Name: xml.Name{Space: space, Local: local}}
}

func attr(space, local, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Space: space, Local: local}, Value: value}
}

// TestWireTokens: the tokens of the wire forms the server reads, written
// out (the differential fuzz target compares with encoding/xml; this says
// what that is).
func TestWireTokens(t *testing.T) {
	header := start(nsStream, "stream", attr("", "xmlns", nsClient), attr("xmlns", "stream", nsStream), attr("", "version", "1.0"))
	for _, tc := range []struct {
		name string
		in   string
		want []xml.Token
		err  *xml.SyntaxError // after the tokens; nil: io.EOF
	}{
		{"header, the declaration first", `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
			[]xml.Token{xml.ProcInst{Target: "xml", Inst: []byte("version='1.0'")}, header},
			&xml.SyntaxError{Msg: "unexpected EOF", Line: 1}},
		{"a message, xml:lang, entities, line ends", "<message to='bob@example.org' xml:lang='en'><body>a &amp; &#x1F600;\r\nb\rc</body></message>",
			[]xml.Token{start("", "message", attr("", "to", "bob@example.org"), attr(xmlURL, "lang", "en")),
				start("", "body"), xml.CharData("a & \U0001F600\nb\nc"), end("", "body"), end("", "message")}, nil},
		{"the default namespace applies to elements, not attributes", `<iq xmlns='jabber:client' type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`,
			[]xml.Token{start(nsClient, "iq", attr("", "xmlns", nsClient), attr("", "type", "set")),
				start("urn:ietf:params:xml:ns:xmpp-bind", "bind", attr("", "xmlns", "urn:ietf:params:xml:ns:xmpp-bind")),
				end("urn:ietf:params:xml:ns:xmpp-bind", "bind"), end(nsClient, "iq")}, nil},
		{"a declared prefix and an undeclared one", `<c:message xmlns:c='jabber:client' p:a='1'><q:x/></c:message>`,
			[]xml.Token{start(nsClient, "message", attr("xmlns", "c", nsClient), attr("p", "a", "1")),
				start("q", "x"), end("q", "x"), end(nsClient, "message")}, nil},
		{"CDATA is text", `<body><![CDATA[<b> & ]]></body>`,
			[]xml.Token{start("", "body"), xml.CharData("<b> & "), end("", "body")}, nil},
		{"a comment where it is", `<a><!-- x --></a>`,
			[]xml.Token{start("", "a"), xml.Comment(" x "), end("", "a")}, nil},
		{"a mismatched end tag", `<a></b>`, []xml.Token{start("", "a")},
			&xml.SyntaxError{Msg: "element <a> closed by </b>", Line: 1}},
		{"an end tag with nothing open", "\n</stream:stream>", []xml.Token{xml.CharData("\n")},
			&xml.SyntaxError{Msg: "unexpected end element </stream>", Line: 2}},
		{"an unknown entity", `<a>&nbsp;</a>`, []xml.Token{start("", "a")},
			&xml.SyntaxError{Msg: "invalid character entity &nbsp;", Line: 1}},
		{"'<' in a value", `<a b='<'/>`, nil, &xml.SyntaxError{Msg: "unescaped < inside quoted string", Line: 1}},
		{"an unquoted value", `<a b=c/>`, nil, &xml.SyntaxError{Msg: "unquoted or missing attribute value in element", Line: 1}},
		{"invalid UTF-8", "<a>\xff</a>", []xml.Token{start("", "a")}, &xml.SyntaxError{Msg: "invalid UTF-8", Line: 1}},
		{"a character XML does not allow", "<a>\x01</a>", []xml.Token{start("", "a")}, &xml.SyntaxError{Msg: "illegal character code U+0001", Line: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tc.in))
			var got []xml.Token
			var err error
			for {
				var tok xml.Token
				if tok, err = d.Token(); err != nil {
					break
				}
				got = append(got, xml.CopyToken(tok))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tokens\n%#v\nwant\n%#v", got, tc.want)
			}
			if tc.err == nil {
				if err != io.EOF {
					t.Errorf("error %v, want io.EOF", err)
				}
				return
			}
			var syn *xml.SyntaxError
			if !errors.As(err, &syn) || *syn != *tc.err {
				t.Errorf("error %#v, want %#v", err, tc.err)
			}
		})
	}
}
