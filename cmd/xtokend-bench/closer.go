package main

import (
	"errors"
	"os"
	"time"
)

// A login ends politely: the tool sends its stream end and closes once the server's end has
// come, so that the server, not the tool, holds the TIME_WAIT (see session.close). Some
// servers answer late (ejabberd ~100 ms), and that is not login time, so the logins mode
// does not wait for it. A goroutine per session to wait would cost each login a goroutine,
// the scheduler's wake-up of a thread to run it, a read that finds nothing and a wait on the
// netpoller; over TCP the worker instead keeps its ended sessions in a queue and, after its
// next login, reads what has come without waiting: nearly always the server's end.

// closeQueue is one worker's sessions whose stream end is sent, oldest first.
type closeQueue struct {
	q    []endedSession
	wait time.Duration // how long the server's end is waited for before closing anyway
}

// noWaiter is a connection whose reads can be made not to wait (fileConn): they fail with
// errWouldWait when nothing has come.
type noWaiter interface{ setNoWait(bool) }

// errWouldWait is what a read that would wait fails with: a timeout (a net.Error whose
// Temporary is true), which crypto/tls passes on without failing the connection.
var errWouldWait = os.ErrDeadlineExceeded

// endedSession is a session whose stream end went at since.
type endedSession struct {
	s     *session
	since time.Time
}

// add sends s's stream end and queues s; it reports false, and leaves s alone, when s cannot
// be read without waiting (over WebSocket) and must be closed the usual way.
func (cq *closeQueue) add(s *session) bool {
	if s.nw == nil {
		return false
	}
	if _, err := s.conn.Write(s.end); err != nil {
		s.conn.Close()
		return true
	}
	cq.q = append(cq.q, endedSession{s, time.Now()})
	return true
}

// reap closes the queued sessions whose server's end has come, or that waited too long,
// from the oldest, and stops at the first that is still waiting.
func (cq *closeQueue) reap() {
	n := 0
	for _, e := range cq.q {
		if !e.s.endCame() && time.Since(e.since) < cq.wait {
			break
		}
		e.s.conn.Close()
		n++
	}
	if n > 0 {
		cq.q = append(cq.q[:0], cq.q[n:]...)
	}
}

// drain waits for the server's end of every queued session, each within its time left.
func (cq *closeQueue) drain() {
	for _, e := range cq.q {
		e.s.conn.SetReadDeadline(e.since.Add(cq.wait))
		for {
			el, err := e.s.sc.next()
			if err != nil || el.Kind == kindEnd {
				break
			}
		}
		e.s.conn.Close()
	}
	cq.q = cq.q[:0]
}

// endCame reads what has come without waiting and reports whether the stream is over: the
// server's end, the connection closed or failed.
func (s *session) endCame() bool {
	s.nw.setNoWait(true)
	defer s.nw.setNoWait(false)
	for {
		el, err := s.sc.next()
		switch {
		case errors.Is(err, errWouldWait):
			return false
		case err != nil || el.Kind == kindEnd:
			return true
		}
	}
}
