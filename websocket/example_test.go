package websocket_test

import (
	"context"
	"encoding/xml"
	"errors"
	"log"
	"net"

	"github.com/xtokend/xtokend/websocket"
)

// A server mounts the handler on its own listener and runs each session on
// the Conn it is given, reading the stream with encoding/xml as over TCP.
func ExampleNewHandler() {
	opts := websocket.DefaultOptions()
	opts.Listen = "127.0.0.1:5280"
	opts.Origins = []string{"https://app.example"}

	h, err := websocket.NewHandler(websocket.Config{
		Options:       opts,
		MaxStanzaSize: 65536,
		Serve: func(c *websocket.Conn) {
			go serveXMPP(c) // Serve runs on the HTTP handler's goroutine: hand the session off
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(h.NewHTTPServer().Serve(ln))
}

// serveXMPP runs one client's session.
func serveXMPP(c *websocket.Conn) {
	defer c.Close()
	d := xml.NewDecoder(c)
	if _, err := d.Token(); err != nil { // <stream:stream ...>, from <open/>
		var fe *websocket.FramingError
		if errors.As(err, &fe) {
			c.WriteOpen("example.com", "an-id", "en", "1.0")
			c.WriteStreamError(fe.Condition, "")
		}
		return
	}
	c.WriteOpen("example.com", "an-id", "en", "1.0")
	c.WriteElement(context.Background(), []byte(`<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>X-TOKEN</mechanism></mechanisms></stream:features>`))
	// ... negotiate, then a new xml.Decoder on c after SASL success ...
	c.WriteClose()
}
