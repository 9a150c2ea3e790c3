package server

import (
	"errors"
	"net"
	"sync"
	"time"
)

// outbox is a session's outbound queue and its writer. The writer runs (on
// the negotiator pool's goroutines) only while there is something to write:
// an idle session costs no goroutine and no buffer on this side, and there is never
// more than one writer, so stanzas go out in the order they were queued.
// A lone stanza to a session with no writer running that the socket takes
// without waiting is written by the goroutine that queues it, under the
// queue's lock (writeNowLocked): no writer is started for it.
//
// Two kinds of stanza share the queue and are held to its limit differently.
// Stanzas from other sessions (add) never wait: a sender must not be slowed
// by a recipient that does not read, so once limit of them wait the
// recipient is cut off. What the session's own read loop queues (addOwn:
// answers to its client, stanzas the client sent itself) waits for room
// instead, so a client's burst slows the reading of that client's stream
// (TCP's flow control then slows the client) rather than ending its session.
type outbox struct {
	limit   int
	timeout time.Duration

	mu      sync.Mutex
	pending [][]byte        // encoded stanzas waiting
	others  int             // how many of pending came from other sessions (add)
	room    chan struct{}   // closed when the queue moves (madeRoomLocked); made by a waiter
	conn    transport       // set by start; nil while negotiating
	pool    *negotiatorPool // where the writer runs (nil: a goroutine of its own)
	// The stream error the session ends with (none when endCond is empty).
	endCond, endText string
	reason           string
	done             chan struct{} // closed when the writer has closed conn

	// Stream management: the stanzas not acked yet, nil until the client
	// enables it.
	sm *smOut

	// The flags, together (an outbox per session: no padding after each).
	writing  bool // a writer goroutine is running
	closed   bool // close was called
	silent   bool // a write failed: nothing more is written
	askAck   bool // closed by close: the read loop still reads (stream management's last ack)
	detached bool // a resumable session that has no connection
}

func (o *outbox) init(limit int, timeout time.Duration) {
	o.limit, o.timeout = limit, timeout
	o.done = make(chan struct{})
}

// Results of add.
const (
	added = iota
	full
	gone
)

// add queues b, a stanza from another session, without blocking: full when
// limit stanzas from others already wait.
func (o *outbox) add(b []byte) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return gone
	case o.others >= o.limit:
		return full
	}
	if !o.pushLocked(b, true) {
		return full // over max_unacked
	}
	return added
}

// addOwn queues b for the session's read loop, the only caller: while limit
// stanzas wait, it waits for the writer to take them. The wait is bounded
// by the writer's: each write has the write timeout as its deadline, and a
// write that misses it closes the outbox (then addOwn returns gone), so a
// client that reads nothing at all still ends after the write timeout.
func (o *outbox) addOwn(b []byte) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	// Without a connection (never, once the read loop runs) no writer would
	// make room: queue rather than wait for nothing.
	for !o.closed && o.conn != nil && len(o.pending) >= o.limit {
		if o.room == nil {
			o.room = make(chan struct{})
		}
		room := o.room
		o.mu.Unlock()
		<-room
		o.mu.Lock()
	}
	if o.closed {
		return gone
	}
	if !o.pushLocked(b, false) {
		o.closeLocked(condResourceConstraint, textTooManyUnacked, textTooManyUnacked, false)
		o.wakeLocked()
		return gone
	}
	return added
}

// pushLocked queues b for the writer (other: from another session) and,
// with stream management, keeps it unacked; false over max_unacked.
func (o *outbox) pushLocked(b []byte, other bool) bool {
	if o.sm != nil {
		if !o.smQueueLocked(b) {
			return false
		}
		if o.detached {
			return true // kept for the resumed stream
		}
	}
	o.pending = append(o.pending, b)
	if other {
		o.others++
	}
	if o.sm != nil && o.sm.sinceR >= smRequestEvery {
		o.sm.sinceR = 0
		o.pending = append(o.pending, smRequestBytes)
	}
	o.wakeLocked()
	return true
}

// madeRoomLocked wakes whoever waits for the queue to move (the writer
// takes pending or stops, the outbox closes or detaches): a read loop
// waiting in addOwn for room, a delivery in awaitFree or waitWritten. Each
// checks its condition again.
func (o *outbox) madeRoomLocked() {
	if o.room != nil {
		close(o.room)
		o.room = nil
	}
}

// start hands the writer the connection once negotiation is over: what was
// queued in the meantime (between the bind result and now) goes out first.
// The writer runs on pool's goroutines, whose stacks have grown already (a
// fresh goroutine's 2 KB grew deep inside crypto/tls's record layer at every
// wake: about a sixth of the server's CPU per STARTTLS message); nil starts
// a goroutine for it.
func (o *outbox) start(conn transport, pool *negotiatorPool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.conn, o.pool = conn, pool
	o.wakeLocked()
}

// close ends the session once, from another goroutine (a full queue,
// a conflict, Shutdown): pending stanzas are dropped, the writer sends the
// stream error cond (none if empty) and the stream's end, and closes the
// connection. The first reason is kept.
func (o *outbox) close(cond, text, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closeLocked(cond, text, reason, false) {
		return
	}
	o.askAck = true
	o.wakeLocked()
}

// fail is close after a failed write, for the writer: nothing more is
// written, not even what a closeHere kept.
func (o *outbox) fail(conn transport, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn != conn {
		return // a connection stream management already let go of
	}
	o.closeLocked("", "", reason, false)
	o.silent = true
	o.pending = nil
}

// closeHere is close for the session's read loop, which has nothing left to
// do but wait for the writer. What is pending is written first: the answers
// to what the client sent before its stream's end (or before the stream
// error), as RFC 6120 section 4.4 has the server finish what it received
// before it closes. When no writer is running, closeHere writes that and the
// stream's end and closes the connection itself, rather than start a
// goroutine for that and wait on it (most sessions end this way, the
// client's </stream:stream> answered with ours).
func (o *outbox) closeHere(cond, text, reason string) {
	o.mu.Lock()
	if !o.closeLocked(cond, text, reason, true) || o.conn == nil || o.writing {
		o.wakeLocked()
		o.mu.Unlock()
		return
	}
	o.writing = true // the last writer: this goroutine
	o.mu.Unlock()
	o.write()
}

// closeLocked marks the outbox closed, dropping what is pending unless
// keep; false if it already was closed.
func (o *outbox) closeLocked(cond, text, reason string, keep bool) bool {
	if o.closed {
		return false
	}
	o.closed = true
	o.endCond, o.endText, o.reason = cond, text, reason
	if !keep {
		o.pending = nil
	}
	o.madeRoomLocked() // a waiting addOwn returns gone
	return true
}

// waitWritten waits until the writer has written everything queued so far
// (true), the outbox closes (false: what was queued may be lost), or
// timeout passes with the writer still busy (true: it has the stanzas).
func (o *outbox) waitWritten(timeout time.Duration) bool {
	ok := true
	o.awaitMove(timeout, func() bool {
		ok = !o.closed
		return o.closed || len(o.pending) == 0 && !o.writing
	})
	return ok
}

// awaitFree waits until the queue takes want more stanzas from others, the
// outbox closes, or timeout passes, and returns freeSlots then.
func (o *outbox) awaitFree(want int, timeout time.Duration) int {
	free := 0
	o.awaitMove(timeout, func() bool {
		free = o.freeSlotsLocked()
		return free < 0 || free >= want
	})
	return free
}

// awaitMove waits, at most timeout, until done (called with o.mu held)
// holds; it checks again each time the queue moves (madeRoomLocked), and
// once more at the timeout.
func (o *outbox) awaitMove(timeout time.Duration, done func() bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if done() {
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		if o.room == nil {
			o.room = make(chan struct{})
		}
		moved := o.room
		o.mu.Unlock()
		select {
		case <-moved:
		case <-t.C:
			o.mu.Lock()
			done()
			return
		}
		o.mu.Lock()
		if done() {
			return
		}
	}
}

// freeSlots is how many more stanzas from others the outbound queue takes
// now; -1 once the session is closing.
func (o *outbox) freeSlots() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.freeSlotsLocked()
}

func (o *outbox) freeSlotsLocked() int {
	if o.closed {
		return -1
	}
	return max(0, o.limit-o.others)
}

// wait blocks until the writer has closed the connection (after close and
// start) and returns why the session ended.
func (o *outbox) wait() string {
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reason
}

// wakeLocked starts a writer if there is work and none is running; a lone
// stanza that the socket takes at once is written here instead (writeNow).
func (o *outbox) wakeLocked() {
	if o.conn == nil || o.writing || (len(o.pending) == 0 && !o.closed) {
		return
	}
	if !o.closed && len(o.pending) == 1 && o.writeNowLocked() {
		return
	}
	o.writing = true
	if o.pool != nil {
		o.pool.do(o)
		return
	}
	go o.write()
}

// run is the writer as a job of the pool.
func (o *outbox) run() { o.write() }

// tryWriter is a transport that can write without waiting (TCP's TryWrite).
type tryWriter interface {
	TryWrite(p []byte) (int, error)
}

// writeNowLocked writes the one pending stanza of an outbox with no writer
// running from the goroutine that queued it, when the socket takes it
// without waiting: a chat's stanza (one at a time) then costs no writer
// goroutine and no hand-over between two. It never blocks: a stanza the
// socket takes in part or not at all (a full buffer, a client that does not
// read) is left, the rest of it first, for the writer with its deadline and
// the queue's limits, as before; an error, too, is the writer's to meet.
// With o.mu held throughout, nothing is queued or written meanwhile, so
// the order stays the queue's. True when the stanza is written.
func (o *outbox) writeNowLocked() bool {
	tw, ok := o.conn.(tryWriter)
	if !ok {
		return false
	}
	b := o.pending[0]
	n, err := tw.TryWrite(b)
	if err != nil || n == 0 {
		return false
	}
	if n < len(b) {
		o.pending[0] = b[n:]
		return false
	}
	o.pending = nil
	o.others = 0
	o.madeRoomLocked()
	return true
}

// write is the writer: it writes batches with a deadline until the queue is
// empty (then it exits) or the outbox is closed and the queue empty (then it
// ends the stream and closes the connection, and stays the last writer).
func (o *outbox) write() {
	for {
		o.mu.Lock()
		if o.conn == nil {
			// Detached (stream management): the connection is gone and the
			// stanzas wait unacked for a resumption.
			o.writing = false
			o.madeRoomLocked()
			o.mu.Unlock()
			return
		}
		if o.closed && (len(o.pending) == 0 || o.silent) {
			cond, text, silent, conn, done := o.endCond, o.endText, o.silent, o.conn, o.done
			o.mu.Unlock()
			if !silent {
				o.smLastAck(conn)
			}
			conn.SetWriteDeadline(time.Now().Add(o.timeout))
			switch {
			case silent:
			case cond == "":
				conn.WriteStreamClose()
			default:
				conn.WriteStreamError(cond, text)
			}
			conn.Close()
			close(done)
			return
		}
		if len(o.pending) == 0 {
			o.writing = false
			o.pending = nil // an idle session holds no queue memory
			o.madeRoomLocked()
			o.mu.Unlock()
			return
		}
		batch := o.pending
		o.pending = nil // a lone stanza (most) leaves no queue to make again
		if len(batch) > 1 {
			o.pending = make([][]byte, 0, min(len(batch), 16))
		}
		o.others = 0
		o.madeRoomLocked()
		conn := o.conn
		o.mu.Unlock()

		// Few writes (few TLS records), in chunks of bounded size.
		from, size := 0, 0
		for i, b := range batch {
			size += len(b)
			if size < maxWrite && i < len(batch)-1 {
				continue
			}
			conn.SetWriteDeadline(time.Now().Add(o.timeout))
			if err := conn.WriteElements(batch[from : i+1]); err != nil {
				o.fail(conn, "write failed: "+errText(err))
				break
			}
			from, size = i+1, 0
		}
	}
}

// maxWrite is the size a batch of small stanzas is written in.
const maxWrite = 64 << 10

func errText(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}
