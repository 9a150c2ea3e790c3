package server_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
	"github.com/xtokend/xtokend/storage"
)

// mutualRosters gives user n contacts (contact0@localhost ...) with a
// mutual subscription, both sides, in the database opts names, before a
// server opens it.
func mutualRosters(t testing.TB, opts storage.Options, user string, n int) []string {
	t.Helper()
	ctx := context.Background()
	opts.MaxRosterItems = max(n, opts.MaxRosterItems)
	st, err := storage.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	contacts := make([]string, n)
	for i := range contacts {
		contacts[i] = "contact" + strconv.Itoa(i) + "@localhost"
		for _, w := range [][2]string{{user, contacts[i]}, {contacts[i], user}} {
			if _, err := st.Rosters().Put(ctx, w[0], storage.Item{Contact: w[1], Subscription: storage.SubBoth}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return contacts
}

// A user whose online contacts outnumber the outbound queue logs in: the
// contacts' presence its initial presence brings comes from its own read
// loop, so it waits for room instead of filling the queue of stanzas from
// others (which once ended the session with resource-constraint).
func TestInitialPresenceFromMoreContactsThanTheQueue(t *testing.T) {
	opts := storage.Options{Backend: storage.BackendSQLite, Path: fastTempDir(t) + "/fan.db"}
	contacts := mutualRosters(t, opts, "alice@localhost", 40)
	ts := servertest.Start(t, servertest.Options{Storage: &opts, QueueSize: 4})
	for _, c := range contacts {
		k := login(t, ts, c, "k", loginOpts{})
		k.send(`<presence><status>here</status></presence>`)
		k.ping("on")
	}
	alice := login(t, ts, "alice@localhost", "a", loginOpts{})
	alice.send(`<presence/>`)
	seen := map[string]bool{}
	for len(seen) < len(contacts) {
		e := alice.next()
		if e.XMLName.Local == "presence" && e.attr("type") == "" && e.attr("from") != alice.jid.String() {
			seen[e.attr("from")] = true
		}
	}
	if e := alice.ping("after"); e.attr("type") != "result" {
		t.Fatalf("alice's ping after the contacts' presence: %s", e)
	}
}

// BenchmarkPresenceFanout1000: a user with 1,000 mutual subscriptions, all
// of the contacts online, changes its presence; each op is one broadcast,
// timed until every contact's connection has read it. p50/p99 are over
// every delivery (send to receipt), cpu-µs/broadcast is the whole process
// (the contacts' readers are cheap byte scans, not XML decoders).
func BenchmarkPresenceFanout1000(b *testing.B) {
	n := fanoutSubscribers(b)
	opts := storage.Options{Backend: storage.BackendSQLite, Path: fastTempDir(b) + "/fan.db"}
	contacts := mutualRosters(b, opts, "alice@localhost", n)
	ts := servertest.Start(b, servertest.Options{Storage: &opts})
	var (
		t0   = time.Now()
		sent []atomic.Int64 // per broadcast, since t0
		got  []atomic.Int32
		done []chan struct{}
		// lat[k]: contact k's latencies, read once every broadcast has
		// reached everyone (each append comes before its got.Add).
		lat = make([][]time.Duration, n)
	)
	const maxBroadcasts = 1 << 16
	sent = make([]atomic.Int64, maxBroadcasts)
	got = make([]atomic.Int32, maxBroadcasts)
	done = make([]chan struct{}, maxBroadcasts)
	for i := range done {
		done[i] = make(chan struct{})
	}
	for ki, c := range contacts {
		k := login(b, ts, c, "k", loginOpts{noRead: true})
		k.send(`<presence/>`)
		go func() {
			space := make([]byte, 4096)
			buf := space[:0]
			marker := []byte("<status>b")
			for {
				// What is left (a marker not read whole) moves to the
				// front: the read always has room.
				buf = space[:copy(space, buf)]
				nr, err := k.conn.Read(space[len(buf):])
				if err != nil {
					return
				}
				buf = buf[:len(buf)+nr]
				for {
					i := bytes.Index(buf, marker)
					if i < 0 {
						break
					}
					j := bytes.IndexByte(buf[i+len(marker):], '<')
					if j < 0 {
						break // the rest has not come yet
					}
					seq, err := strconv.Atoi(string(buf[i+len(marker) : i+len(marker)+j]))
					buf = buf[i+len(marker)+j:]
					if err != nil || seq >= maxBroadcasts {
						continue
					}
					if seq > 0 { // not the initial presence
						lat[ki] = append(lat[ki], time.Since(t0)-time.Duration(sent[seq].Load()))
					}
					if got[seq].Add(1) == int32(n) {
						close(done[seq])
					}
				}
				if len(buf) > 64 { // keep a tail that may hold a split marker
					buf = buf[len(buf)-64:]
				}
			}
		}()
	}
	alice := login(b, ts, "alice@localhost", "a", loginOpts{noRead: true})
	go func() { // alice's own presence and her contacts': read and dropped
		buf := make([]byte, 32<<10)
		for {
			if _, err := alice.conn.Read(buf); err != nil {
				return
			}
		}
	}()
	broadcast := func(seq int) {
		show := ""
		if seq%2 == 1 {
			show = "<show>away</show>"
		}
		sent[seq].Store(int64(time.Since(t0)))
		alice.send(`<presence>%s<status>b%d</status></presence>`, show, seq)
		select {
		case <-done[seq]:
		case <-time.After(waitLimit):
			b.Fatalf("broadcast %d reached %d of %d contacts", seq, got[seq].Load(), n)
		}
	}
	broadcast(0) // the initial presence, and the contacts' presence back
	seq := 1
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		if seq >= maxBroadcasts {
			b.Fatal("too many broadcasts")
		}
		broadcast(seq)
		seq++
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/broadcast")
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	reportLatency(b, all)
}

// fanoutSubscribers is 1,000, or FANOUT_N (a quicker look).
func fanoutSubscribers(b *testing.B) int {
	if v, err := strconv.Atoi(os.Getenv("FANOUT_N")); err == nil && v > 0 {
		return v
	}
	return 1000
}

// fastTempDir is a temporary folder in memory (/dev/shm) where there is
// one: seeding thousands of roster items is thousands of synced
// transactions, minutes on a busy disk.
func fastTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("/dev/shm", "xtokend-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
