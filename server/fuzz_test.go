package server_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// FuzzClientStream: whatever a logged-in client sends, the server neither
// panics nor hangs: once the client stops sending, the server ends the
// stream and closes the connection.
func FuzzClientStream(f *testing.F) {
	for _, s := range []string{
		"<presence/>",
		"<message to='alice@localhost'><body>hi</body></message>",
		"<iq type='get' id='1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
		"<iq type='get' id='2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
		"<message from='bob@localhost'/>",
		"<presence type='subscribe' to='bob@localhost'/><presence to='bob@localhost/x'/>",
		"<message><body>",
		"</stream:stream>",
		"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
		"<foo/>",
		"text",
		"<iq type='bogus'/>",
		"<message to='a@b@c'/>",
		"<!-- c -->",
		"<presence><priority>1000</priority></presence>",
	} {
		f.Add([]byte(s))
	}
	ts := servertest.Start(f, servertest.Options{MaxStanzaSize: 10000})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := rawLogin(t, ts, "alice", "localhost", "")
		c.conn.SetDeadline(time.Now().Add(waitLimit))
		c.conn.Write(data)
		c.conn.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, c.conn); err != nil {
			t.Fatalf("after %q: the server did not close the stream: %v", data, err)
		}
		c.conn.Close()
	})
}

// FuzzNegotiation: whatever an unauthenticated client sends after its stream
// header, the server neither panics nor hangs.
func FuzzNegotiation(f *testing.F) {
	for _, s := range []string{
		"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>AGFsaWNlADEyMw==</auth>",
		"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'/><response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</response>",
		"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>",
		"<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
		"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
		"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
		"<message to='alice@localhost'/>",
		"<enable xmlns='urn:xmpp:sm:3' resume='true'/><r xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='1'/>",
		"<resume xmlns='urn:xmpp:sm:3' previd='00' h='0'/>",
		"<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
		"</stream:stream>",
	} {
		f.Add([]byte(s))
	}
	ts := servertest.Start(f, servertest.Options{MaxStanzaSize: 10000})
	f.Fuzz(func(t *testing.T, data []byte) {
		conn := rawDial(t, ts, "localhost")
		conn.SetDeadline(time.Now().Add(waitLimit))
		conn.Write(data)
		conn.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, conn); err != nil {
			t.Fatalf("after %q: the server did not close the stream: %v", data, err)
		}
	})
}
