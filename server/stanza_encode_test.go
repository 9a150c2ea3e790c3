package server

import (
	"bytes"
	"testing"
)

// FuzzEncodeSameAsEncoder: the direct writer writes, byte for byte, what
// encoding/xml's Encoder writes for the same stanza.
func FuzzEncodeSameAsEncoder(f *testing.F) {
	for _, s := range []string{
		`<message to='b@x' type='chat' id='m1'><body>hi &amp; "bye" &lt;3</body></message>`,
		`<iq type='get' id='1'><query xmlns='urn:q'><p:x xmlns:p='urn:p' p:a='1'/></query></iq>`,
		`<presence xml:lang='en'><status>a &lt; b&#13;&#9;
c</status><priority>1</priority></presence>`,
		`<message><x xmlns=''><y a='&#10;&#9;&#13;&apos;&quot;'/></x></message>`,
		`<message><a:b:c/></message>`,
		"<message id='\xff\xfe'><body>\xc3\x28 \xef\xbf\xbd é 😀</body></message>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parse(data)
		if err != nil {
			return
		}
		for _, to := range []string{"", "b@x/r'\"<"} {
			got, err1 := st.encode("a@x/r", to)
			want, err2 := st.encodeXML("a@x/r", to)
			if (err1 != nil) != (err2 != nil) || !bytes.Equal(got, want) {
				t.Fatalf("in:  %q\ngot  %q (%v)\nwant %q (%v)", data, got, err1, want, err2)
			}
		}
	})
}
