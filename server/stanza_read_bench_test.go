package server

import (
	"bytes"
	"encoding/xml"
	"net"
	"testing"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// bufConn is a net.Conn whose reads come from a buffer, for benchmarks of
// the read path alone.
type bufConn struct {
	net.Conn
	r *bytes.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// benchStanza is a chat message as clients send it (a receipt request, a
// chat state, an origin-id).
const benchStanza = `<message to='bob@example.org/phone' type='chat' id='5b1f0c7e-2a4d-4f8e-9c3b-7d6a1e0f2b9c' xml:lang='en'><body>Are we still on for lunch at noon? I can book the table.</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='5b1f0c7e-2a4d-4f8e-9c3b-7d6a1e0f2b9c'/></message>`

// BenchmarkReadStanza: the server's stanza reader (readStanza over the
// session's streamReader on a countConn) reading chat messages, with
// internal/xmltok as it runs now and with encoding/xml as it ran before
// (tokens copied as readStanza copies a reader's it does not own), per
// message.
func BenchmarkReadStanza(b *testing.B) {
	const n = 1000
	in := []byte(commonHeader + string(bytes.Repeat([]byte(benchStanza), n)))
	run := func(b *testing.B, reader func(*countConn) (xml.TokenReader, error)) {
		b.ReportAllocs()
		for b.Loop() {
			cc := newCountConn(&bufConn{r: bytes.NewReader(in)}, 0)
			r, err := reader(cc)
			if err != nil {
				b.Fatal(err)
			}
			for range n {
				if _, err := readStanza(r); err != nil {
					b.Fatal(err)
				}
			}
			cc.doneReading()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("xmltok", func(b *testing.B) {
		run(b, func(cc *countConn) (xml.TokenReader, error) {
			d := xmltok.NewDecoder(cc)
			if _, err := readStreamHeader(d); err != nil {
				return nil, err
			}
			return &streamReader{d: d}, nil
		})
	})
	b.Run("encoding-xml", func(b *testing.B) {
		run(b, func(cc *countConn) (xml.TokenReader, error) {
			d := xml.NewDecoder(cc)
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			return d, nil
		})
	})
}
