package server_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// TestIdleSessionWaitsInFreshGoroutine: once a plaintext session has read
// and answered a stanza, it waits for the next one in a goroutine that began
// with that wait (session.waitThenRead), not in the one that decoded and
// routed the stanza: that one's stack grew, and a goroutine that grew keeps
// at least 4 KB while it waits (BenchmarkIdleSession measures the stacks).
// And the session still works from there: a second ping is answered.
func TestIdleSessionWaitsInFreshGoroutine(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	c := rawLogin(t, ts, "fresh", "localhost", "r")
	for i := range 2 {
		fmt.Fprintf(c.conn, "<iq type='get' id='p%d'><ping xmlns='urn:xmpp:ping'/></iq>", i)
		if res := c.expect("iq"); res.attr("id") != fmt.Sprintf("p%d", i) || res.attr("type") != "result" {
			t.Fatalf("ping %d: %s", i, res)
		}
		fresh, grown := idleWaiters()
		for end := time.Now().Add(waitLimit); fresh == 0 && time.Now().Before(end); fresh, grown = idleWaiters() {
			time.Sleep(10 * time.Millisecond)
		}
		if fresh != 1 || grown != 0 {
			t.Fatalf("after ping %d: %d sessions wait in a fresh goroutine, %d in their read loop's; want 1 and 0", i, fresh, grown)
		}
	}
}

// idleWaiters counts the goroutines waiting for a client between stanzas:
// those that began with the wait, and those that wait inside a read loop.
func idleWaiters() (fresh, grown int) {
	buf := make([]byte, 1<<22)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "(*tcpTransport).WaitReadable") {
			continue
		}
		switch {
		case strings.Contains(g, "(*session).readLoop"):
			grown++
		case strings.Contains(g, "(*session).waitThenRead"):
			fresh++
		}
	}
	return fresh, grown
}
