package xmltok

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

// anyElement keeps what DecodeElement hands over: every element's name, its
// attributes and its text, at any depth.
type anyElement struct {
	XMLName  xml.Name
	Attr     []xml.Attr   `xml:",any,attr"`
	Text     string       `xml:",chardata"`
	Children []anyElement `xml:",any"`
}

// TestDecodeElementAsEncodingXML: DecodeElement unmarshals the element as
// encoding/xml's own DecodeElement does, namespaces included, but for the
// namespace declarations, which it leaves out of the attributes: also where a
// namespace's name is a prefix the element declares (the tokens it hands on
// are translated already; translated again, the prefix's value would stand
// in for the namespace: a <conflict xmlns='foo'/> read as a stream error's).
func TestDecodeElementAsEncodingXML(t *testing.T) {
	for _, doc := range []string{
		`<stream:error xmlns:stream='` + nsStream + `'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>replaced</text></stream:error>`,
		`<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>X-TOKEN</mechanism><mechanism>PLAIN</mechanism></mechanisms>`,
		`<e xmlns:foo='urn:ietf:params:xml:ns:xmpp-streams'><conflict xmlns='foo'/><foo:x foo:a='1'/></e>`,
		`<e xmlns:p='urn:a' xmlns='p'><p:x/><y/></e>`,
		`<e><x xmlns=''/>text<y a='&lt;'/></e>`,
	} {
		var want anyElement
		if err := xml.NewDecoder(strings.NewReader(doc)).Decode(&want); err != nil {
			t.Fatalf("%s: encoding/xml: %v", doc, err)
		}
		want.dropDeclarations()
		d := NewDecoder(strings.NewReader(doc))
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		start := tok.(xml.StartElement)
		var got anyElement
		if err := d.DecodeElement(&got, &start); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", doc, got, want)
		}
	}
}

func (e *anyElement) dropDeclarations() {
	e.Attr = withoutDeclarations(xml.StartElement{Attr: e.Attr}).Attr
	if len(e.Attr) == 0 {
		e.Attr = nil
	}
	for i := range e.Children {
		e.Children[i].dropDeclarations()
	}
}
