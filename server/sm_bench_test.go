package server_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// BenchmarkIdleSessionSM is the memory an idle session costs with stream
// management enabled (resumable) beside one without, in one process: the
// test's raw clients are the same in both, so the difference is the
// server's. Each op opens smIdleSessions sessions and holds them idle.
//
//	go test -run '^$' -bench IdleSessionSM -benchtime 3x ./server
func BenchmarkIdleSessionSM(b *testing.B) {
	const n = 500
	for _, sm := range []bool{false, true} {
		b.Run(fmt.Sprintf("sm=%v", sm), func(b *testing.B) {
			ts := servertest.Start(b, servertest.Options{QueueSize: 64})
			var perSession float64
			for i := range b.N {
				before := heapAndStacks()
				clients := make([]*rawClient, n)
				for j := range clients {
					c := rawLogin(b, ts, fmt.Sprintf("idle%d_%d", i, j), "localhost", "r")
					if sm {
						c.smEnable()
					}
					clients[j] = c
				}
				time.Sleep(200 * time.Millisecond) // writers done, buffers back
				after := heapAndStacks()
				perSession += float64(after-before) / n
				for _, c := range clients {
					c.conn.Close()
				}
				time.Sleep(100 * time.Millisecond)
			}
			b.ReportMetric(perSession/float64(b.N)/1024, "KB/session")
		})
	}
}

// heapAndStacks is the process's heap in use and its goroutine stacks, after
// a collection.
func heapAndStacks() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}
