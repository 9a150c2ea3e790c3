package server_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/pgtest"
	"github.com/xtokend/xtokend/server/servertest"
	"github.com/xtokend/xtokend/storage"
)

// BenchmarkLoginRoster: a login as a roster client does it (bind, roster
// get, initial presence, a ping to know the server is done) and a logout,
// with storage off, an empty roster, and 100 contacts of whom 10 are
// online with a mutual subscription (their presence comes back at login,
// the user's goes to them). Compare the three beside each other.
func BenchmarkLoginRoster(b *testing.B) {
	for _, tc := range []struct {
		name             string
		stored           bool
		contacts, online int
	}{
		{"storage-off", false, 0, 0},
		{"empty-roster", true, 0, 0},
		{"100-items-10-online", true, 100, 10},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var opts servertest.Options
			if tc.stored {
				o := storage.DefaultOptions()
				opts.Storage = &o
			}
			ts := servertest.Start(b, opts)
			if tc.contacts > 0 {
				setup := login(b, ts, "alice@localhost", "setup", loginOpts{})
				for i := range tc.contacts {
					c := fmt.Sprintf("contact%d@localhost", i)
					iqReply(setup, "s", `<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='%s' name='Contact %d'><group>Friends</group></item></query></iq>`, c, i)
					if i < tc.online {
						setup.send(`<presence type='subscribed' to='%s'/>`, c) // pre-approved
						peer := login(b, ts, c, "", loginOpts{})
						peer.send(`<presence/><presence type='subscribe' to='alice@localhost'/><presence type='subscribed' to='alice@localhost'/>`)
						setup.send(`<presence type='subscribe' to='%s'/>`, c)
						peer.ping("sync")
					}
				}
				setup.close()
			}
			b.ReportAllocs()
			for b.Loop() {
				c := login(b, ts, "alice@localhost", "", loginOpts{})
				if tc.stored {
					iqReply(c, "r", `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
				}
				c.send(`<presence/>`)
				c.ping("done")
				c.close()
			}
		})
	}
}

// BenchmarkMessageStorage is BenchmarkMessage with storage on: what the
// block list checks of every message between two users cost.
func BenchmarkMessageStorage(b *testing.B) {
	o := storage.DefaultOptions()
	ts := servertest.Start(b, servertest.Options{Storage: &o})
	alice := login(b, ts, "alice@localhost", "", loginOpts{})
	bob := login(b, ts, "bob@localhost", "", loginOpts{})
	bob.send("<presence/>")
	bob.ping("sync")
	b.ReportAllocs()
	for b.Loop() {
		alice.send(`<message to='bob@localhost' type='chat'><body>hello</body></message>`)
		bob.nextMatching(isMessage)
	}
}

// BenchmarkRosterGetWire1000 is a roster get of 1,000 items (the default
// cap) as a client sees it: the request written, the whole answer read from
// the socket, on each backend, with p50 and p99 over every get. The
// answer's bytes are only looked at for their end, so the time is the
// server's and the loopback's. first is a session's first get (the roster
// read from the database; the login before it is not timed), again a
// later one in the same session (the roster unchanged: its version read
// only). Target: p99 under 5 ms on SQLite.
func BenchmarkRosterGetWire1000(b *testing.B) {
	for _, backend := range []string{storage.BackendSQLite, storage.BackendPostgres} {
		opts := storage.Options{Backend: backend}
		switch backend {
		case storage.BackendSQLite:
			opts.Path = filepath.Join(b.TempDir(), "roster.db")
		case storage.BackendPostgres:
			opts.DSN = pgtest.Start(b).NewDatabase(b)
		}
		seedRoster(b, opts, "alice@localhost", 1000)
		ts := servertest.Start(b, servertest.Options{Storage: &opts})
		for _, fresh := range []bool{true, false} {
			name := backend + "/again"
			if fresh {
				name = backend + "/first"
			}
			b.Run(name, func(b *testing.B) {
				var (
					c    *client
					open []*client // closed at the end: a session ending runs beside the next get
					last []byte
				)
				took := make([]time.Duration, 0, b.N)
				b.ReportAllocs()
				for b.Loop() {
					if c == nil || fresh {
						b.StopTimer()
						c = login(b, ts, "alice@localhost", "", loginOpts{noRead: true})
						open = append(open, c)
						b.StartTimer()
					}
					start := time.Now()
					last = rosterGetRaw(b, c, last[:0])
					took = append(took, time.Since(start))
				}
				if n := bytes.Count(last, []byte("<item ")); n != 1000 {
					b.Fatalf("the last answer has %d items", n)
				}
				for _, c := range open {
					c.conn.Close()
				}
				reportLatency(b, took)
			})
		}
	}
}

// rosterGetRaw sends a roster get on c's bare connection and returns the
// answer's bytes, read until its end into buf (reused, as a client reuses
// its read buffer: the benchmark's garbage is the server's).
func rosterGetRaw(b *testing.B, c *client, buf []byte) []byte {
	if _, err := c.conn.Write([]byte(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)); err != nil {
		b.Fatal(err)
	}
	end := []byte(`</query></iq>`)
	if cap(buf) == 0 {
		buf = make([]byte, 0, 160<<10)
	}
	for !bytes.HasSuffix(buf, end) {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		c.conn.SetReadDeadline(time.Now().Add(waitLimit))
		n, err := c.conn.Read(buf[len(buf):cap(buf)])
		if err != nil {
			b.Fatalf("after %d bytes: %v", len(buf), err)
		}
		buf = buf[:len(buf)+n]
	}
	return buf
}

// seedRoster gives user a roster of n items (a name and two groups each,
// subscription both) in the database opts name, before a server opens it.
func seedRoster(b *testing.B, opts storage.Options, user string, n int) {
	b.Helper()
	ctx := context.Background()
	opts.MaxRosterItems = n
	st, err := storage.Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		it := storage.Item{Contact: fmt.Sprintf("contact%04d@example.net", i), Name: fmt.Sprintf("Contact %d", i),
			Groups: []string{"Friends", fmt.Sprintf("Group %d", i%10)}, Subscription: storage.SubBoth}
		if _, err := st.Rosters().Put(ctx, user, it); err != nil {
			b.Fatal(err)
		}
	}
}

// reportLatency adds p50 and p99 of the recorded times, in ms.
func reportLatency(b *testing.B, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	at := func(q float64) float64 {
		return float64(took[min(len(took)-1, int(q*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
