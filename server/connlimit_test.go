package server_test

import (
	"github.com/xtokend/xtokend/config"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// dialIdle opens a connection that sends nothing (it holds a slot while the
// server waits for its header).
func dialIdle(t testing.TB, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// refusedAtOnce dials and returns what the server answered before closing,
// with a negotiation deadline of an hour: a connection that was not refused
// gets no answer at all before waitLimit.
func refusedAtOnce(t *testing.T, addr string) string {
	t.Helper()
	conn := dialIdle(t, addr)
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	b, err := io.ReadAll(conn)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("the connection over the cap was not refused at once: %v (got %q)", err, b)
	}
	return string(b)
}

// A server capped at 3 open connections refuses the 4th at once with
// resource-constraint while /metrics still answers; once one closes, a new
// one is served.
func TestMaxConnections(t *testing.T) {
	const limit = 3
	ts := servertest.Start(t, servertest.Options{NegotiationTimeout: time.Hour, Configure: func(c *config.Config) {
		c.Limits.MaxConnections = limit
		c.General.MetricsListen = "127.0.0.1:0"
	}})
	var held []net.Conn
	for range limit {
		held = append(held, dialIdle(t, ts.Addr))
	}
	waitOpen(t, ts, limit)
	got := refusedAtOnce(t, ts.Addr)
	if !strings.Contains(got, "<stream:stream") || !strings.Contains(got, "<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") || !strings.HasSuffix(got, "</stream:stream>") {
		t.Fatalf("over the cap: %q, want a stream header and resource-constraint", got)
	}
	resp, err := http.Get("http://" + ts.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatalf("/metrics at the cap: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `xtokend_rate_limited_total{what="connection"} 1`) {
		t.Errorf("/metrics at the cap: %d\n%s", resp.StatusCode, body)
	}
	// One goes away: its slot is free again.
	held[0].Close()
	waitOpen(t, ts, limit-1)
	c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	c.d = newDecoder(c.conn)
	c.expect("features")
}

// The per-address cap refuses with policy-violation; exempt addresses are
// not counted.
func TestMaxConnectionsPerAddress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		exempt []string
	}{{"capped", nil}, {"exempt", []string{"127.0.0.0/8"}}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := servertest.Start(t, servertest.Options{NegotiationTimeout: time.Hour, Configure: func(c *config.Config) {
				c.Limits.MaxConnectionsPerAddress = 2
				c.Limits.Exempt = tc.exempt
			}})
			dialIdle(t, ts.Addr)
			dialIdle(t, ts.Addr)
			waitOpen(t, ts, 2)
			if tc.exempt != nil {
				c := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
				c.d = newDecoder(c.conn)
				c.expect("features")
				return
			}
			if got := refusedAtOnce(t, ts.Addr); !strings.Contains(got, "<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") {
				t.Fatalf("over the per-address cap: %q, want policy-violation", got)
			}
		})
	}
}

// waitOpen waits until the server holds n connections.
func waitOpen(t testing.TB, ts *servertest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for ts.OpenConnections() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d open connections, want %d", ts.OpenConnections(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
