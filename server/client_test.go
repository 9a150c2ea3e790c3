package server_test

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/xtokend/xtokend/sasl"
	"github.com/xtokend/xtokend/server/servertest"
)

// waitLimit bounds every wait in these tests so a bug fails instead of
// hanging; nothing asserts on how long anything takes.
const waitLimit = 20 * time.Second

// elem is any element a test client received.
type elem struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []elem     `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (e *elem) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// find returns the first descendant (or e itself) named local.
func (e *elem) find(local string) *elem {
	if e.XMLName.Local == local {
		return e
	}
	for i := range e.Children {
		if f := e.Children[i].find(local); f != nil {
			return f
		}
	}
	return nil
}

func (e *elem) String() string {
	b, _ := xml.Marshal(e)
	return string(b)
}

// client is a mellium client session logged in with X-TOKEN.
type client struct {
	t    testing.TB
	jid  jid.JID // bound
	xs   *xmpp.Session
	conn net.Conn
	in   chan *elem
	end  chan error // the read loop's last error
}

type loginOpts struct {
	host     string // the stream's 'to' (default: the user's domain)
	noRead   bool   // never read after login
	startTLS bool
}

// login dials ts and logs in as user@host/resource (resource may be empty).
func login(t testing.TB, ts *servertest.Server, bare, resource string, o loginOpts) *client {
	t.Helper()
	c, err := tryLogin(t, ts, bare, resource, o)
	if err != nil {
		t.Fatalf("login %s: %v", bare, err)
	}
	return c
}

func tryLogin(t testing.TB, ts *servertest.Server, bare, resource string, o loginOpts) (*client, error) {
	t.Helper()
	origin := jid.MustParse(bare)
	if resource != "" {
		origin, _ = origin.WithResource(resource)
	}
	token := ts.Mint(t, bare)
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	features := []xmpp.StreamFeature{
		xmpp.SASL("", "", sasl.ClientMechanism("", origin.Localpart(), token)),
		xmpp.BindResource(),
	}
	var state xmpp.SessionState
	if o.startTLS {
		features = append([]xmpp.StreamFeature{xmpp.StartTLS(ts.ClientTLS(origin.Domainpart()))}, features...)
	} else {
		state = xmpp.Secure
	}
	xs, err := xmpp.NewSession(ctx, origin.Domain(), origin, conn, state, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: features}
	}))
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &client{t: t, jid: xs.LocalAddr(), xs: xs, conn: xs.Conn(), in: make(chan *elem, 1024), end: make(chan error, 1)}
	if !o.noRead {
		go c.readLoop()
	}
	t.Cleanup(func() { c.conn.Close() })
	return c, nil
}

func (c *client) readLoop() {
	r := c.xs.TokenReader()
	defer r.Close()
	d := xml.NewTokenDecoder(r)
	for {
		tok, err := d.Token()
		if err != nil {
			c.end <- err
			close(c.in)
			return
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		e := &elem{}
		if err := d.DecodeElement(e, &start); err != nil {
			c.end <- err
			close(c.in)
			return
		}
		c.in <- e
	}
}

// send writes raw XML to the stream.
func (c *client) send(format string, args ...any) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(waitLimit))
	if _, err := fmt.Fprintf(c.conn, format, args...); err != nil {
		c.t.Fatalf("%s: send: %v", c.jid, err)
	}
}

// next returns the next stanza, failing the test if the stream ends first.
func (c *client) next() *elem {
	c.t.Helper()
	select {
	case e, ok := <-c.in:
		if !ok {
			c.t.Fatalf("%s: stream ended: %v", c.jid, <-c.end)
		}
		return e
	case <-time.After(waitLimit):
		c.t.Fatalf("%s: nothing received", c.jid)
	}
	return nil
}

// nextMatching skips stanzas (presence, typically) until one matches.
func (c *client) nextMatching(match func(*elem) bool) *elem {
	c.t.Helper()
	for {
		if e := c.next(); match(e) {
			return e
		}
	}
}

// streamError waits for the stream to end and returns the stream error
// condition ("" if it ended without one).
func (c *client) streamError() string {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.in:
			if ok {
				continue
			}
			err := <-c.end
			var se stream.Error
			if errors.As(err, &se) {
				return se.Err
			}
			if errors.Is(err, io.EOF) {
				return ""
			}
			return "error: " + err.Error()
		case <-time.After(waitLimit):
			c.t.Fatalf("%s: stream did not end", c.jid)
		}
	}
}

// close ends the stream politely and waits for the server's end.
func (c *client) close() {
	c.t.Helper()
	c.xs.Close()
	if cond := c.streamError(); cond != "" {
		c.t.Errorf("%s: closing: got %q", c.jid, cond)
	}
	c.conn.Close()
}

// ping sends an XEP-0199 ping to the host and waits for its answer, which
// proves the server processed everything this client sent before.
func (c *client) ping(id string) *elem {
	c.t.Helper()
	c.send(`<iq type='get' id='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>`, id, c.jid.Domainpart())
	return c.nextMatching(func(e *elem) bool { return e.XMLName.Local == "iq" && e.attr("id") == id })
}

// rawDial opens a TCP connection and sends a stream header to host.
func rawDial(t testing.TB, ts *servertest.Server, host string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if host != "" {
		fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='%s'>", host)
	}
	return conn
}

// readAll reads until the server closes the connection.
func readAll(t testing.TB, conn net.Conn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	b, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}

// rawClient speaks XML over TCP without a client library, for what a
// library would refuse to send.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	d    *xml.Decoder
	jid  string
}

// rawLogin logs in on plaintext (RequireStartTLS must be false) and binds
// resource, returning the client and the bound JID.
func rawLogin(t testing.TB, ts *servertest.Server, node, host, resource string) *rawClient {
	t.Helper()
	c := rawAuthed(t, ts, node, host)
	fmt.Fprintf(c.conn, "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>%s</resource></bind></iq>", resource)
	res := c.expect("iq")
	j := res.find("jid")
	if res.attr("type") != "result" || j == nil {
		t.Fatalf("bind: %s", res)
	}
	c.jid = j.Text
	c.conn.SetDeadline(time.Time{})
	return c
}

// rawAuthed logs in on plaintext and stops at the features of the
// authenticated stream (bind, stream management).
func rawAuthed(t testing.TB, ts *servertest.Server, node, host string) *rawClient {
	t.Helper()
	token := ts.Mint(t, node+"@"+host)
	c := &rawClient{t: t, conn: rawDial(t, ts, host)}
	c.conn.SetDeadline(time.Now().Add(waitLimit))
	c.d = xml.NewDecoder(c.conn)
	c.expect("features")
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + node + "\x00" + token))
	fmt.Fprintf(c.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>", resp)
	c.expect("success")
	fmt.Fprintf(c.conn, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='%s'>", host)
	c.expect("features")
	return c
}

// next returns the next top-level element (stream headers skipped).
func (c *rawClient) next() *elem {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		tok, err := c.d.Token()
		if err != nil {
			c.t.Fatalf("raw %s: %v", c.jid, err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local == "stream" {
			continue
		}
		e := &elem{}
		if err := c.d.DecodeElement(e, &start); err != nil {
			c.t.Fatalf("raw %s: %v", c.jid, err)
		}
		return e
	}
}

// expect returns the next element, which must be named local.
func (c *rawClient) expect(local string) *elem {
	c.t.Helper()
	e := c.next()
	if e.XMLName.Local != local {
		c.t.Fatalf("raw %s: got %s, want <%s/>", c.jid, e, local)
	}
	return e
}

// expectStreamError reads until a stream error and returns its condition.
func (c *rawClient) expectStreamError() string {
	c.t.Helper()
	for {
		e := c.next()
		if e.XMLName.Local == "error" && e.XMLName.Space == "http://etherx.jabber.org/streams" {
			for _, ch := range e.Children {
				if ch.XMLName.Local != "text" {
					return ch.XMLName.Local
				}
			}
			return ""
		}
	}
}

func newDecoder(c net.Conn) *xml.Decoder { return xml.NewDecoder(c) }
