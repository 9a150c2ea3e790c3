package server_test

import (
	"encoding/base64"
	"github.com/xtokend/xtokend/config"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/server/servertest"
)

// A stanza that has started must arrive whole within limits.stanza_timeout,
// else connection-timeout; an idle session, or one that sends whitespace
// keep-alives, is never timed out.
func TestStanzaTimeoutWire(t *testing.T) {
	const timeout = 200 * time.Millisecond
	ts := servertest.Start(t, servertest.Options{Configure: func(c *config.Config) {
		c.Limits.StanzaTimeout = cluster.Duration{Duration: timeout}
	}})
	ping := "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
	for _, tc := range []struct {
		name string
		send []string // written with 3 timeouts between them
		want []string
		cond string
	}{
		{"half a stanza", []string{wLogin + wBindR + "<message to='bob@localhost'><body>hal"}, []string{aBound}, "connection-timeout"},
		{"half a start tag", []string{wLogin + wBindR + "<mess"}, []string{aBound}, "connection-timeout"},
		{"a stanza in two parts, late", []string{wLogin + wBindR + "<iq type='get' id='p1'>", "<ping xmlns='urn:xmpp:ping'/></iq>"}, []string{aBound}, "connection-timeout"},
		{"idle, then a ping", []string{wLogin + wBindR, ping, wEnd}, []string{aBound, "id='p1'"}, ""},
		{"keep-alives, then a ping", []string{wLogin + wBindR + " ", "\n", " " + ping, wEnd}, []string{aBound, "id='p1'"}, ""},
		{"a stanza in two parts, in time", []string{wLogin + wBindR + "<iq type='get' id='p1'>", "<ping xmlns='urn:xmpp:ping'/></iq>" + wEnd}, []string{aBound}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(t, "alice@localhost")))
			conn, err := net.Dial("tcp", ts.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			gap := 3 * timeout
			if strings.HasSuffix(tc.name, "in time") {
				gap = timeout / 4
			}
			for i, part := range tc.send {
				if i > 0 {
					time.Sleep(gap)
				}
				conn.Write([]byte(strings.ReplaceAll(part, "{TOKEN}", token)))
			}
			checkWireAnswer(t, strings.ReplaceAll(readAll(t, conn), `"`, "'"), tc.want, tc.cond)
		})
	}
}
