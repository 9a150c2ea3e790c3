package server

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/xmltok"
	"github.com/xtokend/xtokend/sasl"
)

// firstStart is the first start element of data, and the decoder after it.
func firstStart(data []byte) (*xmltok.Decoder, xml.StartElement, bool) {
	d := xmltok.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, xml.StartElement{}, false
		}
		if s, ok := tok.(xml.StartElement); ok {
			return d, s, true
		}
	}
}

// FuzzSASL2Authenticate: readSASL2Authenticate on whatever a client sends
// as an <authenticate/> never panics and keeps its bounds: the response,
// the user agent id and the tag it keeps are never longer than allowed,
// and a request it found wrong is a SASL failure condition.
func FuzzSASL2Authenticate(f *testing.F) {
	for _, s := range []string{
		"<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X-TOKEN'><initial-response>AGFsaWNlAHRva2Vu</initial-response><user-agent id='u'><software>s</software><device>d</device></user-agent><bind xmlns='urn:xmpp:bind:0'><tag>t</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind><request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>",
		"<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>YQA=</initial-response><user-agent id='u'/><fast xmlns='urn:xmpp:fast:0' count='18446744073709551616' invalidate='1'/></authenticate>",
		"<authenticate xmlns='urn:xmpp:sasl:2'><resume xmlns='urn:xmpp:sm:3' previd='ab' h='x'/><user-agent/></authenticate>",
		"<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X'><initial-response>a<x/>b</initial-response><!-- c --></authenticate>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, start, ok := firstStart(data)
		if !ok {
			return
		}
		a, err := readSASL2Authenticate(d, start)
		if err != nil {
			return
		}
		switch {
		case len(a.response) > sasl.MaxPayload():
			t.Fatalf("response of %d bytes kept", len(a.response))
		case len(a.userAgentID) > maxUserAgentID && a.fail == nil:
			t.Fatalf("user agent id of %d bytes accepted", len(a.userAgentID))
		case len(a.tag) > maxBind2Tag || len(a.software) > maxUAText || len(a.device) > maxUAText:
			t.Fatalf("tag %d, software %d, device %d bytes kept", len(a.tag), len(a.software), len(a.device))
		case a.fail != nil && a.fail.Condition != sasl.MalformedRequest && a.fail.Condition != sasl.InvalidMechanism:
			t.Fatalf("failure %v", a.fail)
		}
	})
}

// FuzzFASTLogin: a FAST response of any bytes, for a user that holds a
// token, logs in only when it is the token's HMAC, and never panics.
func FuzzFASTLogin(f *testing.F) {
	f.Add([]byte("alice\x00" + string(make([]byte, 32))))
	f.Add([]byte("\x00\x00"))
	f.Add([]byte("alice"))
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := newFASTRAM(nil)
		u := fastUser{"localhost", "alice", "ua"}
		secret, _ := r.issue(u, fastMechanism, "", "", time.Hour, now)
		c := &conn{srv: &Server{fast: r}, host: &host{name: "localhost"}}
		a := &sasl2Auth{mechanism: fastMechanism, userAgentID: "ua", hasInitial: true, response: []byte(base64.StdEncoding.EncodeToString(raw))}
		node, _, _, fail := c.fastCheck(a)
		want := append([]byte("alice\x00"), fastHMAC(secret, "Initiator", nil)...)
		if (fail == nil) != bytes.Equal(raw, want) {
			t.Fatalf("response %q: node %q, failure %v", raw, node, fail)
		}
	})
}
