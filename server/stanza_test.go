package server

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/internal/xmltok"
)

const testHeader = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

// parse reads one stanza from b as if it came after a client stream header.
func parse(b []byte) (*xmlStanza, error) {
	d := xmltok.NewDecoder(io.MultiReader(strings.NewReader(testHeader), bytes.NewReader(b)))
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	return readStanza(d)
}

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"message",
			`<message to='b@x' from='ignored' id='1' type='chat'><body>hi &amp; bye</body></message>`,
			`<message to="b@x" from="a@x/r" id="1" type="chat"><body>hi &amp; bye</body></message>`},
		{"namespaces declared once, where they change",
			`<iq to='b@x' type='get' id='q'><query xmlns='urn:q'><item xmlns:p='urn:p'><p:x/></item></query></iq>`,
			`<iq to="b@x" from="a@x/r" type="get" id="q"><query xmlns="urn:q"><item><x xmlns="urn:p"></x></item></query></iq>`},
		{"xml:lang kept",
			`<message xml:lang='fr'><body>salut</body></message>`,
			`<message from="a@x/r" xml:lang="fr"><body>salut</body></message>`},
		{"stanza namespace declared again",
			`<presence xmlns='jabber:client'><show xmlns='jabber:client'>away</show></presence>`,
			`<presence from="a@x/r"><show>away</show></presence>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			to := st.to
			b, err := st.encode("a@x/r", to)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}

func TestReadStanzaRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, in, cond string
	}{
		{"repeated attribute", `<message to='a@x' to='b@x'/>`, condNotWellFormed},
		{"repeated child attribute", `<message><body a='1' a='2'/></message>`, condNotWellFormed},
		{"not a stanza", `<foo/>`, condUnsupportedStanzaType},
		{"other namespace", `<message xmlns='jabber:server'/>`, condUnsupportedStanzaType},
		{"comment", `<message><!-- x --></message>`, "restricted-xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse([]byte(tc.in))
			var ce *clientError
			if !errors.As(err, &ce) || ce.cond != tc.cond {
				t.Errorf("got %v, want %s", err, tc.cond)
			}
		})
	}
}

// FuzzStanza: whatever a client sends, what the server routes parses again
// to the same stanza (same elements, namespaces, attributes and text).
func FuzzStanza(f *testing.F) {
	for _, s := range []string{
		`<message to='b@x'><body>hi</body></message>`,
		`<iq type='get' id='1'><query xmlns='urn:q'><p:x xmlns:p='urn:p' p:a='1'/></query></iq>`,
		`<presence xml:lang='en'><status>a &lt; b</status><priority>1</priority></presence>`,
		`<message><x xmlns=''><y/></x></message>`,
		`<message><a:b:c/></message>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parse(data)
		if err != nil {
			return
		}
		b, err := st.encode("a@x/r", "b@x")
		if err != nil {
			return // refused as bad-format
		}
		again, err := parse(b)
		if err != nil {
			t.Fatalf("routed stanza does not parse: %v\nin:  %q\nout: %q", err, data, b)
		}
		if again.name != st.name || again.from != "a@x/r" || again.to != "b@x" {
			t.Fatalf("addressing changed: %q -> %q", data, b)
		}
		if got, want := describe(again.inner), describe(st.inner); got != want {
			t.Fatalf("content changed:\nin:  %q\nout: %q\n%s\n%s", data, b, want, got)
		}
	})
}

// describe renders tokens without namespace declarations, to compare them.
func describe(toks []xml.Token) string {
	var b strings.Builder
	for _, t := range toks {
		switch t := t.(type) {
		case xml.StartElement:
			b.WriteString("<{" + t.Name.Space + "}" + t.Name.Local)
			for _, a := range t.Attr {
				if !isNSDecl(a) {
					b.WriteString(" {" + a.Name.Space + "}" + a.Name.Local + "=" + a.Value)
				}
			}
			b.WriteString(">")
		case xml.EndElement:
			b.WriteString("</>")
		case xml.CharData:
			b.WriteString(string(t))
		}
	}
	return b.String()
}
