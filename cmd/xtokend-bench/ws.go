package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
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
	t.wsClient = &http.Client{Transport: &upgrader{t: t, tlsConf: tlsConf}}
	return nil
}

// upgrader is the HTTP client's transport for the upgrade alone: it writes the request on a
// new connection and reads the answer from it, and on 101 hands the connection over as the
// body, which is what the WebSocket library takes. net/http's Transport does the same with a
// connection pool, two goroutines and 8 KB of buffers per connection: tool CPU per login
// that would be taken from the servers on the same cores.
type upgrader struct {
	t       *target
	tlsConf *tls.Config
}

func (u *upgrader) RoundTrip(req *http.Request) (*http.Response, error) {
	conn, err := u.t.dialTCP(req.Context(), req.URL.Host)
	if err != nil {
		return nil, err
	}
	if u.tlsConf != nil {
		tc := tls.Client(conn, u.tlsConf)
		if err := tc.HandshakeContext(req.Context()); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	if d, ok := req.Context().Deadline(); ok {
		conn.SetDeadline(d)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 512)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body = conn // the library reads a little of a refusal's body, then closes it
		return resp, nil
	}
	// What the server sent after its answer (its first frames) is in br: read through it.
	resp.Body = &upgradedConn{Conn: conn, r: br}
	return resp, nil
}

// upgradedConn is the connection after the upgrade, read through the reader that read the
// answer.
type upgradedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *upgradedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// dialWebSocket opens the WebSocket (the upgrade bounded by t.timeout) and returns it as a
// net.Conn of text messages, and the WebSocket itself.
func (t *target) dialWebSocket(ctx context.Context) (net.Conn, *websocket.Conn, error) {
	hctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	ws, resp, err := websocket.Dial(hctx, t.wsURL, &websocket.DialOptions{
		HTTPClient:   t.wsClient,
		Subprotocols: []string{"xmpp"},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, nil, fmt.Errorf("upgrade refused: HTTP %s", resp.Status)
		}
		return nil, nil, err
	}
	if p := ws.Subprotocol(); p != "xmpp" {
		ws.CloseNow()
		return nil, nil, fmt.Errorf("the server chose the subprotocol %q, not xmpp", p)
	}
	// Stanzas are as large as the server allows; the scanner bounds what it buffers.
	return websocket.NetConn(context.Background(), ws, websocket.MessageText), ws, nil
}

// dialTCP dials addr with the tool's dialer: no TCP keepalive, and the next source address
// when there are several.
func (t *target) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
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
		s.ws.CloseNow()
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
