package server

import (
	"io"
	"net"
	"runtime"
	"strings"
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
	first := parkedWorker(t, &p)

	ids := make(chan string, 1)
	release := make(chan struct{})
	p.do(funcJob(func() { ids <- goroutineID(); <-release }))
	if second := <-ids; second != first {
		t.Errorf("the job ran on goroutine %s, not on the waiting worker %s", second, first)
	}
	close(release)
	waitFor(t, func() bool { return p.idle.Load() == 1 }, "the worker to wait again")
	p.stop()
	waitFor(t, func() bool { return p.idle.Load() == 0 }, "stop to end the idle worker")
}

// parkedWorker starts p's first worker and returns its goroutine's ID once
// it waits for work (counting it idle comes a moment before the wait: a job
// given in between would go to a new worker).
func parkedWorker(t *testing.T, p *negotiatorPool) string {
	t.Helper()
	ids := make(chan string, 1)
	p.do(funcJob(func() { ids <- goroutineID() }))
	id := <-ids
	waitFor(t, func() bool {
		buf := make([]byte, 1<<20)
		return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "goroutine "+id+" [select")
	}, "worker "+id+" to wait for work")
	return id
}

// goroutineID is the calling goroutine's number, as its stack trace gives it.
func goroutineID() string {
	buf := make([]byte, 64)
	return strings.Fields(string(buf[:runtime.Stack(buf, false)]))[1]
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
// has grown, not a fresh goroutine that grows it inside crypto/tls).
func TestOutboxWriterRunsOnPool(t *testing.T) {
	var p negotiatorPool
	defer p.stop()
	worker := parkedWorker(t, &p)

	server, client := net.Pipe()
	defer client.Close()
	ids := make(chan string, 1)
	var o outbox
	o.init(8, 10*time.Second)
	o.add([]byte("<m/>"))
	o.start(&writerIDTransport{testTransport(server), ids}, &p)
	b := make([]byte, 4)
	if _, err := io.ReadFull(client, b); err != nil || string(b) != "<m/>" {
		t.Fatalf("read %q, %v", b, err)
	}
	if writer := <-ids; writer != worker {
		t.Errorf("the writer ran on goroutine %s, not on the pool's waiting worker %s", writer, worker)
	}
}

// writerIDTransport tells which goroutine writes. It has no TryWrite: every
// stanza goes through the writer.
type writerIDTransport struct {
	transport
	ids chan<- string
}

func (t *writerIDTransport) WriteElements(b [][]byte) error {
	select {
	case t.ids <- goroutineID():
	default:
	}
	return t.transport.WriteElements(b)
}
