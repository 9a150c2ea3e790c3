// Package websocket carries XMPP over WebSocket (RFC 7395) to an XMPP server
// that speaks the byte stream of RFC 6120, and serves XEP-0156 discovery.
//
// # The framing
//
// Over TCP an XMPP session is one long XML document: <stream:stream> opens
// it, stanzas are its children, </stream:stream> ends it. A WebSocket
// carries messages instead, and RFC 7395 makes each message one complete,
// well-formed element, parsable on its own:
//
//	TCP                                   WebSocket (subprotocol "xmpp")
//	<stream:stream to="example.com"       <open xmlns="urn:ietf:params:xml:ns:xmpp-framing"
//	  version="1.0" ...>                        to="example.com" version="1.0"/>
//	<message to="juliet@example.com">     <message xmlns="jabber:client" to="juliet@example.com">
//	  <body>hi</body></message>             <body>hi</body></message>
//	</stream:stream>                      <close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>
//
// So the stream header is an <open/> element in the framing namespace, the
// end of the stream a <close/>, and a stream restart (after SASL) a new
// <open/>. Every element names its namespaces itself: a stanza carries
// xmlns="jabber:client", <stream:features> declares the stream prefix. There
// is no STARTTLS: the WebSocket is encrypted (wss://) or it is not.
//
// # How a server uses it
//
// Conn turns the messages back into the stream a server already reads: its
// Read yields a <stream:stream xmlns="jabber:client" ...> header for each
// <open/>, each other message's element as it came, and </stream:stream>
// for <close/>. A server therefore negotiates exactly as over TCP, with a
// new xml.Decoder on the same Conn after each restart (Conn is an
// io.ByteReader, so the decoder buffers nothing). A message that is not
// exactly one element (two, a partial one, text, a comment, a DTD, a binary
// frame, one over the size limit) makes Read return a *FramingError whose
// Condition is the stream error to send.
//
// Writing goes the other way, element by element: WriteOpen for the
// server's stream header, WriteElement or WriteElements for stanzas and
// negotiation elements (each one text message, namespaces added where RFC
// 7395 asks for them), WriteStreamError or WriteClose to end, then Close,
// which closes the WebSocket with status 1000.
//
//	h, err := websocket.NewHandler(websocket.Config{
//		Options:       opts,          // the [websocket] section
//		MaxStanzaSize: 65536,
//		Serve: func(c *websocket.Conn) { // on the HTTP handler's goroutine
//			go func() {
//				defer c.Close()
//				d := xml.NewDecoder(c) // reads <stream:stream ...> first
//				...
//			}()
//		},
//	})
//	http.Serve(listener, h) // also serves /.well-known/host-meta(.json)
//
// The handler refuses, before upgrading, a browser whose Origin is not
// allowed (403) and a client that does not offer the subprotocol xmpp
// (400). It believes X-Forwarded-For and X-Forwarded-Proto only from
// trusted proxies, and pings clients that go quiet, so that proxies keep
// the connection and dead peers are found.
package websocket
