package xmltok

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

// What the benchmarks decode: a client's header and a chat message as
// routed (with a receipt request and a chat state), and the elements of a
// plaintext login after its first header (auth, the second header, bind).
const (
	benchHeader  = `<stream:stream to='example.org' xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0' xml:lang='en'>`
	benchMessage = `<message to='bob@example.org/phone' type='chat' id='5b1f0c7e-2a4d-4f8e-9c3b-7d6a1e0f2b9c' xml:lang='en'><body>Are we still on for lunch at noon? I can book the table.</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='5b1f0c7e-2a4d-4f8e-9c3b-7d6a1e0f2b9c'/></message>`
	benchLogin   = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>YWxpY2UAMTIzNDU2AGFiY2RlZjAxMjM0NTY3ODkAZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY=</auth>` +
		benchHeader + `<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>`
)

// tokenReader is what both decoders are read through, as the server reads.
type tokenReader interface {
	Token() (xml.Token, error)
}

// decodeAll reads n tokens, keeping them as the server's stanza reader
// does: encoding/xml's copied (CopyToken), xmltok's CharData copied and its
// start and end tokens as they are (owned: they are the caller's).
func decodeAll(b *testing.B, d tokenReader, n int, owned bool) {
	for range n {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return
			}
			b.Fatal(err)
		}
		if !owned {
			tok = xml.CopyToken(tok)
		} else if t, ok := tok.(xml.CharData); ok {
			tok = t.Copy()
		}
		sink = tok
	}
}

var sink xml.Token

func benchDecoders(b *testing.B, body string, copies int) {
	in := []byte(benchHeader + string(bytes.Repeat([]byte(body), copies)))
	count := 0
	for d := xml.NewDecoder(bytes.NewReader(in)); ; count++ {
		if _, err := d.Token(); err != nil {
			break
		}
	}
	b.Run("encoding-xml", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			decodeAll(b, xml.NewDecoder(bytes.NewReader(in)), count, false)
		}
	})
	b.Run("xmltok", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		src := &chunkSource{b: in, sizes: []int{4096}}
		for b.Loop() {
			src.taken, src.i = 0, 0
			decodeAll(b, NewDecoder(src), count, true)
		}
	})
	b.Run("xmltok-bytereader", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			decodeAll(b, NewDecoder(bytes.NewReader(in)), count, true)
		}
	})
}

// BenchmarkMessages: a header and 100 chat messages on one decoder.
func BenchmarkMessages(b *testing.B) { benchDecoders(b, benchMessage, 100) }

// BenchmarkLoginElements: a fresh decoder per stream, as a login has: a
// header, the auth, the second header and the bind request.
func BenchmarkLoginElements(b *testing.B) { benchDecoders(b, benchLogin, 1) }
