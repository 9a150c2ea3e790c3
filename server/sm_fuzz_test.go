package server

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"testing"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// FuzzSMElement: readSMElement on whatever a client sends as a stream
// management element never panics, and reads h only when it is a 32-bit
// count.
func FuzzSMElement(f *testing.F) {
	for _, s := range []string{
		"<enable xmlns='urn:xmpp:sm:3' resume='true'/>",
		"<a xmlns='urn:xmpp:sm:3' h='4294967295'/>",
		"<a xmlns='urn:xmpp:sm:3' h='4294967296'/>",
		"<resume xmlns='urn:xmpp:sm:3' previd='00ff' h='3'><x/></resume>",
		"<r xmlns='urn:xmpp:sm:3' h='1' h='2'/>",
		"<r xmlns='urn:xmpp:sm:3'><!-- c --></r>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := xmltok.NewDecoder(bytes.NewReader(append(data, "<next/>"...)))
		var start xml.StartElement
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			if s, ok := tok.(xml.StartElement); ok {
				start = s
				break
			}
		}
		el, err := readSMElement(d, start)
		if err != nil {
			return
		}
		if el.name != start.Name.Local {
			t.Fatalf("name %q from <%s>", el.name, start.Name.Local)
		}
		for _, a := range start.Attr {
			if a.Name.Space == "" && a.Name.Local == "h" {
				_, perr := strconv.ParseUint(a.Value, 10, 32)
				if el.hOK != (perr == nil) {
					t.Fatalf("h=%q read as ok=%v", a.Value, el.hOK)
				}
			}
		}
	})
}
