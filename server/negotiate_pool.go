package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// negotiatorPool runs connections' negotiations on long-lived goroutines.
// Negotiation (the XML decoder, a TLS handshake, the system calls under them)
// grows a goroutine's stack from 2 KB to 8–16 KB, and a fresh goroutine pays
// for that growth on every login (runtime.newstack and copystack were ~4% of
// a plaintext login's CPU). A worker keeps its grown stack from one login to
// the next. Sessions do not wait here: a bound session's read loop goes on
// on the worker only until nothing is buffered, and then waits with no
// goroutine, parked on the server's epoll set (parker; one that cannot
// park, in a fresh goroutine whose stack stays small);
// once the client has sent, the read loop comes back to a worker (wakeRead)
// to decode and route, which would grow the small stack of a goroutine that
// waited (about 10% of the server's CPU per routed message). Under TLS
// the record is read here too, and an outbox's writer runs here: both go
// through crypto/tls, whose record layer grew a fresh stack at every wake.
//
// The accept loop hands a connection to an idle worker if one waits, else
// starts one; a worker waits for more work for negotiatorIdleTime, at most
// maxIdleNegotiators wait, and all of them end at stop (Shutdown).
type negotiatorPool struct {
	once sync.Once
	work chan job      // unbuffered: a send succeeds only if a worker waits
	done chan struct{} // closed by stop
	idle atomic.Int32
}

const (
	maxIdleNegotiators = 64
	negotiatorIdleTime = 5 * time.Second
)

// job is what a worker runs: a connection (conn.serve), a woken session's
// read loop (wakeRead) or an outbox's writer (outbox.run).
type job interface{ run() }

func (p *negotiatorPool) init() {
	p.once.Do(func() {
		p.work = make(chan job)
		p.done = make(chan struct{})
	})
}

// serve negotiates c on an idle worker, or a new one.
func (p *negotiatorPool) serve(c *conn) { p.do(c) }

// do runs j on an idle worker, or a new one.
func (p *negotiatorPool) do(j job) {
	p.init()
	select {
	case p.work <- j:
	default:
		go p.worker(j)
	}
}

func (p *negotiatorPool) worker(j job) {
	var timer *time.Timer
	for {
		j.run()
		j = nil
		if p.idle.Add(1) > maxIdleNegotiators {
			p.idle.Add(-1)
			return
		}
		if timer == nil {
			timer = time.NewTimer(negotiatorIdleTime)
		} else {
			timer.Reset(negotiatorIdleTime)
		}
		select {
		case j = <-p.work:
			p.idle.Add(-1)
			timer.Stop()
		case <-timer.C:
			p.idle.Add(-1)
			return
		case <-p.done:
			p.idle.Add(-1)
			return
		}
	}
}

// stop ends the idle workers (and those that finish from now on).
func (p *negotiatorPool) stop() {
	p.init()
	select {
	case <-p.done:
	default:
		close(p.done)
	}
}
