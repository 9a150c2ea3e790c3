package server_test

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/server/servertest"
)

func openFDs(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

// No goroutine or file descriptor outlives its session: many logins and
// logouts (polite, abrupt, failed), then the counts go back to where they were.
func TestNoLeaks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		startTLS bool
	}{
		{"plaintext", false},
		{"starttls", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logins, sessions atomic.Int32
			ts := servertest.Start(t, servertest.Options{
				RequireStartTLS: tc.startTLS,
				Hooks: server.Hooks{
					OnLogin:        func(string, string, bool) { logins.Add(1) },
					OnSessionStart: func(string) { sessions.Add(1) },
				},
			})
			peer := login(t, ts, "peer@localhost", "", loginOpts{startTLS: tc.startTLS})
			peer.send("<presence/>")
			peer.ping("sync")

			goroutines, fds := runtime.NumGoroutine(), openFDs(t)
			const rounds = 40
			for i := range rounds {
				c := login(t, ts, fmt.Sprintf("user%d@localhost", i%7), "", loginOpts{startTLS: tc.startTLS})
				c.send(`<message to='peer@localhost'><body>%d</body></message>`, i)
				peer.nextMatching(isMessage)
				switch i % 3 {
				case 0:
					c.close()
				case 1:
					c.send("<presence/>")
					c.ping("p")
					c.conn.Close() // no stream end
				case 2:
					c.send("<message><body>") // half a stanza, then gone
					c.conn.Close()
				}
			}
			waitFor(t, func() bool { return len(ts.Sessions()["localhost"]) == 1 })
			waitFor(t, func() bool {
				return runtime.NumGoroutine() <= goroutines && openFDs(t) <= fds
			})
			if logins.Load() != rounds+1 || sessions.Load() != rounds+1 {
				t.Errorf("hooks saw %d logins, %d sessions; want %d", logins.Load(), sessions.Load(), rounds+1)
			}
		})
	}
}
