package server

import (
	"testing"
	"time"
)

// funcJob is a job that runs f.
type funcJob func()

func (f funcJob) run() { f() }

// TestPoolRunsJobOnIdleWorker: a job given while a worker waits (a woken
// session's read loop, wakeRead) runs on that worker, whose stack has grown
// already, not on a new goroutine; and stop ends the idle workers.
func TestPoolRunsJobOnIdleWorker(t *testing.T) {
	var p negotiatorPool
	defer p.stop()
	p.do(funcJob(func() {}))
	waitFor(t, func() bool { return p.idle.Load() == 1 }, "the first worker to wait")

	release := make(chan struct{})
	running := make(chan struct{})
	p.do(funcJob(func() { close(running); <-release }))
	<-running
	if n := p.idle.Load(); n != 0 {
		t.Errorf("%d workers idle while the second job runs: it ran on a new goroutine, not the waiting worker", n)
	}
	close(release)
	waitFor(t, func() bool { return p.idle.Load() == 1 }, "the worker to wait again")
	p.stop()
	waitFor(t, func() bool { return p.idle.Load() == 0 }, "stop to end the idle worker")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
