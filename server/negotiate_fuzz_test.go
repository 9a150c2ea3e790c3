package server

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// FuzzStreamHeader: whatever a client sends as its stream header, reading
// and checking it neither panics nor loops, and what it accepts is a
// jabber:client stream of version 1.x.
func FuzzStreamHeader(f *testing.F) {
	for _, s := range []string{
		"<?xml version='1.0'?>" + headerStream,
		headerS,
		headerExtra,
		"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.1' to='localhost' from='a@b/c'>",
		"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='2.0' to='a@@b'>",
		"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='x.y'>",
		"</stream:stream>",
		"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start, err := readStreamHeader(xmltok.NewDecoder(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if _, err := checkStreamHeader(start, nil); err != nil {
			return
		}
		xmlns, version := "", ""
		for _, a := range start.Attr {
			switch a.Name {
			case xml.Name{Local: "xmlns"}:
				xmlns = a.Value
			case xml.Name{Local: "version"}:
				version = a.Value
			}
		}
		if v := strings.TrimLeft(version, "0"); xmlns != nsClient || !strings.HasPrefix(v, "1.") || len(v) < 3 {
			t.Fatalf("accepted a header with xmlns %q version %q: %q", xmlns, version, data)
		}
	})
}
