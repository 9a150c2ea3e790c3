package server

import (
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Returning memory after a flood.
//
// A flood of connections grows the heap and the goroutine stacks; once it
// is over, the Go runtime keeps the freed memory mapped and gives it back
// only slowly (the background scavenger paces itself to about 1% of a CPU,
// and the heap goal stays high until a GC runs, which on an idle server is
// the forced one every 2 minutes): 294 MB of RSS were measured with no
// connection left. So when the open connections fall to a quarter of a peak
// of at least memReleaseMinPeak, the server waits memReleaseAfter (for the
// churn to settle) and then runs debug.FreeOSMemory once: one forced GC and
// a full scavenge, a few milliseconds on a server that just became quiet.
// Nothing runs, and no timer exists, unless there was such a peak.

// Both are atomic because a test sets them while the connections of
// earlier tests' servers may still close.
var (
	memReleaseMinPeak atomic.Int64 // connections
	memReleaseAfter   atomic.Int64 // a time.Duration
)

func init() {
	memReleaseMinPeak.Store(1000)
	memReleaseAfter.Store(int64(30 * time.Second))
}

// noteOpen is connCaps' bookkeeping for the release, under its lock.
func (c *connCaps) noteOpen() {
	if c.open > c.peak {
		c.peak = c.open
	}
	if int64(c.peak) >= memReleaseMinPeak.Load() && c.open <= c.peak/4 && !c.releaseArmed {
		c.releaseArmed = true
		time.AfterFunc(time.Duration(memReleaseAfter.Load()), c.releaseMemory)
	}
}

// releaseMemory returns idle memory to the operating system, unless the
// connections came back meanwhile.
func (c *connCaps) releaseMemory() {
	c.mu.Lock()
	quiet := c.open <= c.peak/4
	c.peak, c.releaseArmed = c.open, false
	c.mu.Unlock()
	if !quiet {
		return
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	debug.FreeOSMemory()
	defer c.released.Add(1) // after the log line: tests wait for the count
	if c.log != nil {
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		c.log.Info("returned idle memory to the OS after a drop in connections",
			"released_mb", (after.HeapReleased-before.HeapReleased)>>20, "heap_in_use_mb", after.HeapInuse>>20)
	}
}
