package xmltok

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"testing"
)

// Real clients' streams, as they arrive: the seeds of the differential
// fuzz target and the inputs of the split-read test.
var clientStreams = []string{
	// slixmpp: double quotes, the declaration first.
	`<?xml version="1.0"?><stream:stream to="example.org" xmlns:stream="http://etherx.jabber.org/streams" xmlns="jabber:client" version="1.0"><auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="X-TOKEN">AGFsaWNlADEyMzQ1Ng==</auth>`,
	`<stream:stream to="example.org" xmlns:stream="http://etherx.jabber.org/streams" xmlns="jabber:client" version="1.0"><iq id="b1" type="set"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>slix</resource></bind></iq><message to="bob@example.org" type="chat" id="m1"><body>héllo &amp; &lt;world&gt; 👋</body></message></stream:stream>`,
	// xmpp.js: single quotes, xml:lang.
	`<?xml version='1.0'?><stream:stream version='1.0' xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' to='example.org' xml:lang='en'><presence/><message to='bob@example.org' type='chat' xml:lang='en'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/></message></stream:stream>`,
	// Converse.js over WebSocket: <open/>, prefixes in stanzas.
	`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.org" version="1.0"/><iq type="get" id="r1"><query xmlns="jabber:iq:roster" ver=""/></iq>`,
	// A stream prefix other than "stream", a prefixed stanza.
	"<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client' xmlns:c='jabber:client' version='1.0'>\r\n<c:message to='a@b'><c:body>x\r\ny\rz</c:body></c:message>\n</s:stream>",
	// CDATA, character references, a SASL2 authenticate with Bind2.
	`<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0'><authenticate xmlns='urn:xmpp:sasl:2' mechanism='X-TOKEN'><initial-response>AGFs</initial-response><user-agent id='d7f5a3b8-5a8c-4e9f-b2d1-1c0e7c9a6f3e'><software>gajim</software><device>laptop</device></user-agent><bind xmlns='urn:xmpp:bind:0'><tag>gajim</tag></bind></authenticate><message><body><![CDATA[<not> & markup]]>&#x1F600;&#65;</body></message>`,
	// Stream management, whitespace pings, a stream error.
	"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0'><enable xmlns='urn:xmpp:sm:3' resume='true'/> \n <r xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='3'/><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>bye</text></stream:error>",
	// What the server refuses, and bad XML.
	`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><!-- c --><?pi x?><!DOCTYPE x [<!ENTITY e "v">]><message>&e;</message>`,
	`<?xml version='1.1'?><a/>`,
	`<?xml version='1.0' encoding='ISO-8859-1'?><a/>`,
	`<a><b></a>`, `<a:b></c:b>`, `<a b=c/>`, `<a b='<'/>`, `<a>]]></a>`, "<a>\xff</a>", "<a>\x01</a>", `<a b='1' b='2'/>`,
	`<a>&#xD800;</a>`, `<a>&#0;</a>`, `<a>&amp</a>`, `</a>`, `<a:b:c/>`, `<1a/>`, `<a xmlns:p='u'><p:b xml:lang='x' p:c='d'/></a>`,
	`<a xmlns='u'><b xmlns=''/></a>`, "<a\n\nb='1'\n>\n</a\n>", `<![CDATA[]]>`, `<a b=''/>`, `<é/>`, `<a>text`, `<a><![CDATA[x]]`,
}

// A chunked Source lends windows of the sizes in sizes, in turn, and
// records what was taken.
type chunkSource struct {
	b     []byte
	sizes []int
	i     int
	taken int
}

func (s *chunkSource) Peek() ([]byte, error) {
	if s.taken == len(s.b) {
		return nil, io.EOF
	}
	n := 1
	if len(s.sizes) > 0 {
		n = s.sizes[s.i%len(s.sizes)]
		s.i++
	}
	n = max(1, min(n, len(s.b)-s.taken))
	return s.b[s.taken : s.taken+n], nil
}

func (s *chunkSource) Discard(n int) { s.taken += n }

// sameTokens decodes in with encoding/xml and with a Decoder on src, and
// fails at the first difference: a token, the position after it, or the
// error. taken, if not nil, says how much of in src gave away.
func sameTokens(t *testing.T, in []byte, d *Decoder, taken func() int) {
	t.Helper()
	ref := xml.NewDecoder(bytes.NewReader(in))
	for i := 0; i <= len(in)+1; i++ {
		want, werr := ref.Token()
		got, gerr := d.Token()
		if werr != nil || gerr != nil {
			if !sameError(werr, gerr) {
				t.Fatalf("%q: token %d: error %#v, want %#v (token %#v)", in, i, gerr, werr, got)
			}
			return
		}
		if want == nil || got == nil {
			if want != nil || got != nil {
				t.Fatalf("%q: token %d: %#v, want %#v", in, i, got, want)
			}
			continue
		}
		if w, g := xml.CopyToken(want), xml.CopyToken(got); !reflect.DeepEqual(w, g) {
			t.Fatalf("%q: token %d: %#v, want %#v", in, i, g, w)
		}
		wl, wc := ref.InputPos()
		gl, gc := d.InputPos()
		if wl != gl || wc != gc {
			t.Fatalf("%q: after token %d (%#v): at %d:%d, want %d:%d", in, i, got, gl, gc, wl, wc)
		}
		if taken != nil {
			held := 0
			if d.nextByte >= 0 {
				held = 1
			}
			if n := taken(); int64(n) != d.InputOffset()+int64(held) {
				t.Fatalf("%q: after token %d: the source gave %d bytes, the decoder decoded %d", in, i, n, d.InputOffset())
			}
			if _, end := got.(xml.EndElement); end && held != 0 {
				t.Fatalf("%q: after end tag %d: a byte held past '>'", in, i)
			}
		}
	}
	t.Fatalf("%q: more tokens than bytes", in)
}

// sameError: both nil, or the same syntax error (message and line), or
// the same text.
func sameError(want, got error) bool {
	if want == nil || got == nil {
		return want == got
	}
	var ws, gs *xml.SyntaxError
	if errors.As(want, &ws) != errors.As(got, &gs) {
		return false
	}
	if ws != nil {
		return ws.Msg == gs.Msg && ws.Line == gs.Line
	}
	return want.Error() == got.Error()
}

// FuzzSameAsEncodingXML: for any bytes, the decoder gives encoding/xml's
// tokens, positions and errors, read a byte at a time (io.ByteReader), in
// the chunks split says (Source), and through a plain io.Reader.
func FuzzSameAsEncodingXML(f *testing.F) {
	for _, s := range clientStreams {
		f.Add([]byte(s), []byte{1})
		f.Add([]byte(s), []byte{7, 1, 200, 3})
	}
	f.Fuzz(func(t *testing.T, in, split []byte) {
		sameTokens(t, in, NewDecoder(bytes.NewReader(in)), nil)
		sizes := make([]int, len(split))
		for i, b := range split {
			sizes[i] = int(b)
		}
		src := &chunkSource{b: in, sizes: sizes}
		sameTokens(t, in, NewDecoder(src), func() int { return src.taken })
		sameTokens(t, in, NewDecoder(io.MultiReader(bytes.NewReader(in[:len(in)/2]), bytes.NewReader(in[len(in)/2:]))), nil)
	})
}

// TestSplitReads: every client stream gives the same tokens read a byte
// per window, in windows of every size up to 64, and whole.
func TestSplitReads(t *testing.T) {
	for _, s := range clientStreams {
		for n := 0; n <= 64; n++ {
			sizes := []int{n}
			if n == 0 {
				sizes = []int{len(s)}
			}
			src := &chunkSource{b: []byte(s), sizes: sizes}
			sameTokens(t, []byte(s), NewDecoder(src), func() int { return src.taken })
		}
		src := &chunkSource{b: []byte(s), sizes: []int{3, 1, 17, 2, 64, 5}}
		sameTokens(t, []byte(s), NewDecoder(src), func() int { return src.taken })
	}
}

// Read makes chunkSource an io.Reader, as the server's sources are; the
// decoder uses Peek and Discard.
func (s *chunkSource) Read(p []byte) (int, error) {
	w, err := s.Peek()
	n := copy(p, w)
	s.Discard(n)
	return n, err
}
