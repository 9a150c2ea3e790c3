package server_test

import (
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// TLS session resumption stays on: a client that kept the session ticket of
// its first connection resumes on the next one, skipping the certificate
// and its signature (a third of a STARTTLS login's server CPU). The server
// leaves the ticket keys to crypto/tls, which makes them from crypto/rand
// and rotates them (a new key a day, each accepted for a week).
func TestTLSSessionResumption(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{RequireStartTLS: true})
	for _, maxVersion := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := ts.ClientTLS("localhost")
		cfg.MaxVersion = maxVersion
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		for i, wantResumed := range []bool{false, true} {
			c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
			c.d = newDecoder(c.conn)
			c.expect("features")
			fmt.Fprintf(c.conn, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
			c.expect("proceed")
			tc := tls.Client(c.conn, cfg)
			tc.SetDeadline(time.Now().Add(waitLimit))
			if err := tc.Handshake(); err != nil {
				t.Fatalf("TLS %x, connection %d: %v", maxVersion, i, err)
			}
			// Reading the features after TLS also reads TLS 1.3's tickets.
			fmt.Fprintf(tc, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='localhost'>")
			tcc := &rawClient{t: t, conn: tc, d: xml.NewDecoder(tc)}
			tcc.expect("features")
			if got := tc.ConnectionState().DidResume; got != wantResumed {
				t.Errorf("TLS %x, connection %d: resumed %v, want %v", maxVersion, i, got, wantResumed)
			}
			tc.Close()
		}
	}
}
