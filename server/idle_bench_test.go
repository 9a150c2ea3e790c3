package server_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// BenchmarkIdleSession is what the server holds per idle session (plaintext
// and STARTTLS)
// that has read a stanza since its login: goroutine stacks (the test's raw
// clients have no goroutines, so all of it is the server's) and the live
// heap (this one includes the clients' decoders and buffers; compare it
// across builds, not with the server's RSS). Each op opens n sessions, sends
// each a ping and holds them idle.
//
//	go test -run '^$' -bench 'IdleSession$' -benchtime 3x ./server
func BenchmarkIdleSession(b *testing.B) {
	for _, tls := range []bool{false, true} {
		b.Run(fmt.Sprintf("tls=%v", tls), func(b *testing.B) { benchmarkIdleSession(b, tls) })
	}
}

func benchmarkIdleSession(b *testing.B, tls bool) {
	const n = 500
	ts := servertest.Start(b, servertest.Options{QueueSize: 64, RequireStartTLS: tls})
	var stack, heap float64
	for i := range b.N {
		runtime.GC()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		clients := make([]*rawClient, n)
		for j := range clients {
			node := fmt.Sprintf("idle%d_%d", i, j)
			var c *rawClient
			if tls {
				c = tlsLogin(b, ts, node)
			} else {
				c = rawLogin(b, ts, node, "localhost", "r")
			}
			fmt.Fprintf(c.conn, "<iq type='get' id='p%d'><ping xmlns='urn:xmpp:ping'/></iq>", j)
			c.expect("iq")
			clients[j] = c
		}
		time.Sleep(200 * time.Millisecond) // writers done, buffers back
		runtime.GC()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		stack += float64(int64(after.StackInuse)-int64(before.StackInuse)) / n
		heap += float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / n
		for _, c := range clients {
			c.conn.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.ReportMetric(stack/float64(b.N), "stack-B/session")
	b.ReportMetric(heap/float64(b.N), "heap-B/session")
}
