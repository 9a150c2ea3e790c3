package server

import (
	"io"
	"net"
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

// An outbox started with a pool runs its writer there (a worker whose stack
// has grown, not a fresh goroutine that grows it inside crypto/tls): while
// the writer is blocked on a client that does not read, the pool's one
// worker is busy; once the client reads, it waits in the pool again.
func TestOutboxWriterRunsOnPool(t *testing.T) {
	var p negotiatorPool
	defer p.stop()
	p.do(funcJob(func() {}))
	waitFor(t, func() bool { return p.idle.Load() == 1 }, "the worker to wait")

	server, client := net.Pipe()
	defer client.Close()
	var o outbox
	o.init(8, 10*time.Second)
	o.add([]byte("<m/>"))
	o.start(testTransport(server), &p) // the writer blocks on the pipe until read
	// Well within negotiatorIdleTime, after which an idle worker ends.
	busy := false
	for end := time.Now().Add(time.Second); !busy && time.Now().Before(end); time.Sleep(time.Millisecond) {
		busy = p.idle.Load() == 0
	}
	if !busy {
		t.Fatal("the pool's worker stayed idle: the writer ran on a goroutine of its own")
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(client, b); err != nil || string(b) != "<m/>" {
		t.Fatalf("read %q, %v", b, err)
	}
	waitFor(t, func() bool { return p.idle.Load() == 1 }, "the worker to wait again after the write")
}
