package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A measured run: workers loop from the start, the first warm-up is not counted, then the
// server's CPU is read over the measured time, and what the workers saw in it makes one
// result line. measureWindow is the clock every worker asks; workerTally what one worker saw
// (kept without a lock); tally what they all saw.

// measureWindow says whether an operation that ends now is counted.
type measureWindow struct{ measuring, stop atomic.Bool }

// counted is true between the warm-up's end and the stop.
func (w *measureWindow) counted() bool { return w.measuring.Load() && !w.stop.Load() }

// stopped is true once the measured time is over: the workers finish what they do and end.
func (w *measureWindow) stopped() bool { return w.stop.Load() }

// run waits out the warm-up, measures for duration with the server's CPU read around it,
// and stops the workers.
func (w *measureWindow) run(ctx context.Context, warmup, duration time.Duration, serverPID int) (time.Duration, *cpuMeter) {
	sleepCtx(ctx, warmup)
	cpu := startCPU(serverPID)
	w.measuring.Store(true)
	start := time.Now()
	sleepCtx(ctx, duration)
	w.stop.Store(true)
	elapsed := time.Since(start)
	cpu.end()
	return elapsed, cpu
}

// workerTally is one worker's counts.
type workerTally struct {
	samples   []time.Duration
	ops, errs int
	first     string
}

func newWorkerTally() workerTally { return workerTally{samples: make([]time.Duration, 0, 4096)} }

func (w *workerTally) ok(lat time.Duration) {
	w.ops++
	w.samples = append(w.samples, lat)
}

func (w *workerTally) fail(err error) {
	w.errs++
	if w.first == "" {
		w.first = err.Error()
	}
}

// tally is every worker's counts, each added once at its end.
type tally struct {
	mu sync.Mutex
	workerTally
}

func (t *tally) add(w *workerTally) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.samples = append(t.samples, w.samples...)
	t.ops += w.ops
	t.errs += w.errs
	if t.first == "" {
		t.first = w.first
	}
}

// result is the run's line: its rate, latencies and CPU per operation.
func (t *tally) result(c *common, tg *target, mode string, workers int, elapsed time.Duration, cpu *cpuMeter) *result {
	r := &result{Server: c.server, Mode: mode, Transport: c.transport(), TLS: tg.useTLS, Pipelined: tg.pipeline, Concurrency: workers,
		Seconds: round3(elapsed.Seconds()), Ops: t.ops, Errors: t.errs, FirstError: t.first, Rate: round3(float64(t.ops) / elapsed.Seconds())}
	r.ToolCPUus, r.ServerCPUus = cpu.perOp(t.ops)
	r.setLatencies(t.samples)
	if c.serverPID > 0 {
		r.RSSKB = procRSS(c.serverPID)
	}
	return r
}
