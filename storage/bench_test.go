package storage

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/pgtest"
)

// benchStore opens a fresh store of backend b for a benchmark.
func benchStore(b *testing.B, backend string) *Store {
	b.Helper()
	opts := Options{Backend: backend, MaxRosterItems: 10_000, MaxOfflineMessages: maxLimit}
	switch backend {
	case BackendSQLite:
		opts.Dir, opts.Path = b.TempDir(), "bench.db"
	case BackendPostgres:
		opts.DSN = pgtest.Shared(b).NewDatabase(b)
	}
	st, err := Open(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// reportLatency adds p50 and p99 of the recorded call times.
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

// A roster get of 1,000 items (the default cap), each with a name and two
// groups. Target: p99 under 5 ms on SQLite.
func BenchmarkRosterGet1000(b *testing.B) {
	for _, backend := range []string{BackendSQLite, BackendPostgres} {
		b.Run(backend, func(b *testing.B) {
			st := benchStore(b, backend)
			ctx := context.Background()
			for i := range 1000 {
				it := Item{Contact: fmt.Sprintf("contact%04d@example.net", i), Name: fmt.Sprintf("Contact %d", i),
					Groups: []string{"Friends", fmt.Sprintf("Group %d", i%10)}, Subscription: SubBoth}
				if _, err := st.Rosters().Put(ctx, juliet, it); err != nil {
					b.Fatal(err)
				}
			}
			// text is what a session reads (GetText), items the decoded
			// roster the admin API reads (Get).
			for _, decoded := range []bool{false, true} {
				name := "text"
				if decoded {
					name = "items"
				}
				b.Run(name, func(b *testing.B) {
					took := make([]time.Duration, 0, b.N)
					b.ReportAllocs()
					for b.Loop() {
						start := time.Now()
						n, err := 0, error(nil)
						if decoded {
							var ro Roster
							ro, err = st.Rosters().Get(ctx, juliet)
							n = len(ro.Items)
						} else {
							var rt RosterText
							rt, err = st.Rosters().GetText(ctx, juliet)
							n = rt.Len()
						}
						took = append(took, time.Since(start))
						if err != nil || n != 1000 {
							b.Fatalf("%d items, %v", n, err)
						}
					}
					reportLatency(b, took)
				})
			}
		})
	}
}

// Offline messages stored one by one, each durable when Store returns,
// spread over 100 users.
func BenchmarkOfflineStore(b *testing.B) {
	stanza := []byte(`<message type="chat" to="juliet@example.com" from="romeo@example.net/orchard" id="x1"><body>But soft, what light through yonder window breaks?</body></message>`)
	for _, backend := range []string{BackendSQLite, BackendPostgres} {
		b.Run(backend, func(b *testing.B) {
			st := benchStore(b, backend)
			ctx := context.Background()
			took := make([]time.Duration, 0, b.N)
			i := 0
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				_, err := st.Offline().Store(ctx, fmt.Sprintf("user%d@example.com", i%100), romeo, time.Now(), stanza)
				took = append(took, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			reportLatency(b, took)
		})
	}
}

// Delivery at login: fetch a user's 100 waiting messages, then delete them.
func BenchmarkOfflineFetchDelete100(b *testing.B) {
	stanza := []byte(`<message type="chat"><body>hello</body></message>`)
	for _, backend := range []string{BackendSQLite, BackendPostgres} {
		b.Run(backend, func(b *testing.B) {
			st := benchStore(b, backend)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				for range 100 {
					if _, err := st.Offline().Store(ctx, juliet, romeo, time.Now(), stanza); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				msgs, err := st.Offline().Fetch(ctx, juliet, 0)
				if err != nil || len(msgs) != 100 {
					b.Fatalf("%d messages, %v", len(msgs), err)
				}
				ids := make([]int64, len(msgs))
				for i, m := range msgs {
					ids[i] = m.ID
				}
				if n, err := st.Offline().Delete(ctx, juliet, ids...); err != nil || n != 100 {
					b.Fatalf("deleted %d, %v", n, err)
				}
			}
			b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// The check made for every stanza to a user with a block list.
func BenchmarkIsBlocked(b *testing.B) {
	for _, backend := range []string{BackendSQLite, BackendPostgres} {
		b.Run(backend, func(b *testing.B) {
			st := benchStore(b, backend)
			ctx := context.Background()
			for i := range 100 {
				if err := st.BlockLists().Block(ctx, juliet, fmt.Sprintf("spammer%d@example.org", i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if blocked, err := st.BlockLists().IsBlocked(ctx, juliet, "romeo@example.net/orchard"); err != nil || blocked {
					b.Fatal(blocked, err)
				}
			}
		})
	}
}
