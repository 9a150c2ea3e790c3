package server_test

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// prefixLogin logs in on plaintext with stream headers of the form header
// (a format with the host as its one verb), then binds resource.
func prefixLogin(t *testing.T, ts *servertest.Server, node, resource, header string) *rawClient {
	t.Helper()
	c := prefixAuthed(t, ts, node, header)
	fmt.Fprintf(c.conn, "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>%s</resource></bind></iq>", resource)
	if res := c.expect("iq"); res.attr("type") != "result" {
		t.Fatalf("bind: %s", res)
	}
	return c
}

// prefixAuthed is prefixLogin up to the features of the authenticated
// stream.
func prefixAuthed(t *testing.T, ts *servertest.Server, node, header string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn, d: xml.NewDecoder(conn)}
	conn.SetDeadline(time.Now().Add(waitLimit))
	fmt.Fprintf(conn, header, "localhost")
	c.expect("features")
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + node + "\x00" + ts.Mint(t, node+"@localhost")))
	fmt.Fprintf(conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>", resp)
	c.expect("success")
	fmt.Fprintf(conn, header, "localhost")
	c.expect("features")
	return c
}

// A bound session reads its stanzas with the namespaces its client declared
// in its stream header, whatever the prefix: the stream's end in that prefix
// is a clean end, a stream error in it is a stream error.
func TestStreamPrefixes(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	for _, tc := range []struct {
		name, header, end string
		wantClean         bool
	}{
		{"stream", "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='%s'>", "</stream:stream>", true},
		{"s", `<s:stream xmlns:s="http://etherx.jabber.org/streams" xmlns="jabber:client" version="1.0" to="%s">`, "</s:stream>", true},
		{"s, stream error", `<s:stream xmlns:s="http://etherx.jabber.org/streams" xmlns="jabber:client" version="1.0" to="%s">`, "<s:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error>", true},
		{"s, ended as stream", `<s:stream xmlns:s="http://etherx.jabber.org/streams" xmlns="jabber:client" version="1.0" to="%s">`, "</stream:stream>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := prefixLogin(t, ts, "alice", "r", tc.header)
			c.conn.SetDeadline(time.Now().Add(waitLimit))
			// A stanza with a prefix declared on it, routed back to herself.
			fmt.Fprintf(c.conn, "<c:message xmlns:c='jabber:client' to='alice@localhost/r' id='m1'><c:body>hi</c:body></c:message>")
			if m := c.expect("message"); m.attr("id") != "m1" || m.find("body").Text != "hi" {
				t.Fatalf("got %s", m)
			}
			fmt.Fprint(c.conn, tc.end)
			rest := readAll(t, c.conn)
			if clean := !strings.Contains(rest, "error"); clean != tc.wantClean || !strings.Contains(rest, "</stream:stream>") {
				t.Errorf("after %s: the server sent %q", tc.end, rest)
			}
		})
	}
}
