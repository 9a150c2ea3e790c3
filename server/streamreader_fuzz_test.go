package server

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzStreamReader: whatever header and stream come (read as one, the
// header by readStreamHeader as in negotiation), the reader neither panics
// nor loops; it ends the stream cleanly only if the client sent an end tag.
func FuzzStreamReader(f *testing.F) {
	for _, s := range [][2]string{
		{headerStream, "<message/></stream:stream>"},
		{headerS, "<message><body>hi</body></message></s:stream>"},
		{headerS, "<s:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error>"},
		{headerExtra, "<c:message><p:ping/></c:message>"},
		{"<?xml version='1.0'?>" + headerStream, "<iq type='get' id='1'/>text"},
		{headerStream, "<!-- c --><?pi?><!DOCTYPE x>"},
		{"<stream xmlns='http://etherx.jabber.org/streams'>", "<message xmlns='jabber:client'/></stream>"},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, rec, body []byte) {
		r, err := newStreamReader(io.MultiReader(bytes.NewReader(rec), bytes.NewReader(body)))
		if err != nil {
			return // a header with another name or namespace is refused
		}
		all := append(append([]byte(nil), rec...), body...)
		for i := 0; ; i++ {
			if i > len(rec)+len(body)+1 {
				t.Fatalf("more stanzas than bytes in %q", body)
			}
			_, err := readStanza(r)
			if errors.Is(err, io.EOF) {
				if !bytes.Contains(all, []byte("</")) {
					t.Fatalf("a clean end without an end tag in %q", all)
				}
				return
			}
			if err != nil {
				return
			}
		}
	})
}
