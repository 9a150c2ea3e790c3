package main

import (
	"errors"
	"testing"
	"time"
)

// A run's tally sums its workers' counts and keeps the first error one of them saw.
func TestTally(t *testing.T) {
	var all tally
	a, b := newWorkerTally(), newWorkerTally()
	a.ok(time.Millisecond)
	a.ok(3 * time.Millisecond)
	b.fail(errors.New("first"))
	b.fail(errors.New("second"))
	b.ok(2 * time.Millisecond)
	all.add(&a)
	all.add(&b)
	r := all.result(&common{server: "x"}, &target{pipeline: true}, "logins", 2, 2*time.Second, startCPU(0))
	if r.Ops != 3 || r.Errors != 2 || r.FirstError != "first" || r.Rate != 1.5 || !r.Pipelined || r.Concurrency != 2 {
		t.Errorf("result %+v", r)
	}
	if r.P50ms != 2 || r.MaxMs != 3 {
		t.Errorf("latencies p50 %v max %v, want 2 and 3 ms", r.P50ms, r.MaxMs)
	}
}
