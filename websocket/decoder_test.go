package websocket

import (
	"context"
	"encoding/xml"
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestDecoderReadsStream reads Conn with encoding/xml as a server does: a
// decoder per stream on the same Conn, the second after the restart.
func TestDecoderReadsStream(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	client, c := f.accept(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, m := range []string{
		openMsg,
		`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="X-TOKEN">AGFsaWNl</auth>`,
		openMsg,
		`<message xmlns="jabber:client" to="bob@example.com"><body>hi &amp; bye</body></message>`,
		closeMsgS,
	} {
		if err := client.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	expectStart := func(d *xml.Decoder, space, local string) xml.StartElement {
		t.Helper()
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		s, ok := tok.(xml.StartElement)
		if !ok || s.Name.Space != space || s.Name.Local != local {
			t.Fatalf("got %#v; want <%s xmlns=%q>", tok, local, space)
		}
		return s
	}
	for stream := range 2 {
		d := xml.NewDecoder(c)
		h := expectStart(d, NSStream, "stream")
		var to, version string
		for _, a := range h.Attr {
			switch a.Name.Local {
			case "to":
				to = a.Value
			case "version":
				version = a.Value
			}
		}
		if to != "example.com" || version != "1.0" {
			t.Fatalf("stream %d header: to %q version %q", stream, to, version)
		}
		if stream == 0 {
			s := expectStart(d, "urn:ietf:params:xml:ns:xmpp-sasl", "auth")
			var auth struct {
				Mechanism string `xml:"mechanism,attr"`
				Data      string `xml:",chardata"`
			}
			if err := d.DecodeElement(&auth, &s); err != nil || auth.Mechanism != "X-TOKEN" || auth.Data != "AGFsaWNl" {
				t.Fatalf("auth %+v, %v", auth, err)
			}
			continue
		}
		s := expectStart(d, NSClient, "message")
		var msg struct {
			Body string `xml:"body"`
		}
		if err := d.DecodeElement(&msg, &s); err != nil || msg.Body != "hi & bye" {
			t.Fatalf("message %+v, %v", msg, err)
		}
		tok, err := d.Token()
		if end, ok := tok.(xml.EndElement); err != nil || !ok || end.Name.Local != "stream" {
			t.Fatalf("got %#v, %v; want the stream's end", tok, err)
		}
	}
}

// TestDecoderGetsFramingError: a refused message reaches the server's
// decoder as the *FramingError itself, not as a syntax error.
func TestDecoderGetsFramingError(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	client, c := f.accept(t)
	ctx := context.Background()
	client.Write(ctx, websocket.MessageText, []byte(openMsg))
	client.Write(ctx, websocket.MessageText, []byte(`<presence/><presence/>`))
	d := xml.NewDecoder(c)
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	_, err := d.Token()
	var fe *FramingError
	if !errors.As(err, &fe) || fe.Condition != CondNotWellFormed {
		t.Fatalf("decoder: %v; want a FramingError not-well-formed", err)
	}
}
