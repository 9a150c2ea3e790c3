package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
)

// XMPP over WebSocket (RFC 7395), as a browser's client speaks it: an HTTP upgrade with the
// subprotocol xmpp, then one complete element per text message. The stream header is an
// <open/> and the stream's end a <close/>, both in the framing namespace; a stream restart
// (after SASL) is a new <open/>; there is no STARTTLS (wss:// is TLS from the start).
//
// The rest of the tool keeps reading a byte stream: the WebSocket is wrapped as a net.Conn
// whose every Write is one text message and whose Read yields the messages one after the
// other, and the scanner, told it reads WebSocket framing, takes <close/> for the end of the
// stream.

const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// wsClose is the client's end of the stream over WebSocket.
var wsClose = []byte("<close xmlns='" + nsFraming + "'/>")

// clientNS is the namespace declaration every stanza carries over WebSocket, where each
// message stands alone (RFC 7395 section 3.3.3) and no stream header declares it, as
// browsers' clients send it.
const clientNS = " xmlns='jabber:client'"

// stanza returns b, a stanza, as this session sends it: over WebSocket with its namespace.
func (s *session) stanza(b []byte) []byte {
	if s.ws == nil {
		return b
	}
	i := 1
	for i < len(b) && b[i] != ' ' && b[i] != '/' && b[i] != '>' {
		i++
	}
	out := make([]byte, 0, len(b)+len(clientNS))
	out = append(out, b[:i]...)
	out = append(out, clientNS...)
	return append(out, b[i:]...)
}

// initWebSocket checks t.wsURL and prepares the HTTP client every upgrade goes through. The
// connections it dials come from t.dialTCP, so -sources and the no-keepalive dialer apply.
func (t *target) initWebSocket() error {
	u, err := url.Parse(t.wsURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return usageError(fmt.Sprintf("-ws %q: want ws://host:port/path or wss://host:port/path", t.wsURL))
	}
	if t.useTLS {
		return usageError("-tls is STARTTLS, which WebSocket does not have: use a wss:// URL for TLS")
	}
	t.header = []byte("<open xmlns='" + nsFraming + "' to='" + t.host + "' version='1.0'/>")
	t.end = wsClose
	t.ns = clientNS
	var tlsConf *tls.Config
	if u.Scheme == "wss" {
		// A loopback benchmark against a self-signed certificate: nothing to verify.
		tlsConf = &tls.Config{InsecureSkipVerify: true, ServerName: t.host, CurvePreferences: []tls.CurveID{tls.X25519}, NextProtos: []string{"http/1.1"}}
	}
	if t.addrWS, err = wsHostPort(t.wsURL); err != nil {
		return err
	}
	path := u.EscapedPath()
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	if path == "" {
		path = "/"
	}
	t.wsDialer = newWSDialer(t, u.Host, path, tlsConf)
	return nil
}

// dialWebSocket opens the WebSocket (the upgrade bounded by t.timeout): a net.Conn of text
// messages.
func (t *target) dialWebSocket(ctx context.Context) (*wsConn, error) {
	return t.wsDialer.dial(ctx)
}

// dialNet dials addr with net.Dialer: no TCP keepalive, and the next source address when
// there are several.
func (t *target) dialNet(ctx context.Context, addr string) (net.Conn, error) {
	// No TCP keepalive: a login lasts milliseconds, and Go's default (on) costs four
	// setsockopt calls per connection, tool CPU that would be taken from the server.
	d := net.Dialer{Timeout: t.timeout, KeepAlive: -1}
	if len(t.sources) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: t.sources[int(t.nextSource.Add(1))%len(t.sources)]}
		d.Control = bindAddressNoPort
	}
	return d.DialContext(ctx, "tcp", addr)
}

// closeNow drops the connection without the closing handshakes (the idle modes' teardown).
func (s *session) closeNow() {
	if s.ws != nil {
		s.ws.closeNow()
		return
	}
	s.conn.Close()
}

// wsHostPort is the host:port a ws:// or wss:// URL connects to.
func wsHostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", usageError(fmt.Sprintf("-ws %q: not a ws:// or wss:// URL", raw))
	}
	if u.Port() != "" {
		return u.Host, nil
	}
	port := "80"
	if u.Scheme == "wss" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
