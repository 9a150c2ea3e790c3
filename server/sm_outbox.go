package server

import (
	"bytes"
	"time"
)

// smOut is the outbound half of stream management (XEP-0198), kept by the
// outbox under its lock: every stanza queued for the client from the moment
// <enabled/> was queued is kept here, in order, until the client's <a h/>
// says it handled it. Stanzas waiting in pending are kept here too (the same
// bytes, not a copy): a connection that drops loses them with the rest, and
// a resumption sends the whole unacked tail again.
type smOut struct {
	unacked [][]byte
	acked   uint32 // the client's last h: stanzas handled, modulo 2^32
	max     int    // max_unacked
	sinceR  int    // stanzas queued since the server's last <r/>
	// lastAck is closed by the next <a/> while the server, ending the
	// session itself, waits for it (smLastAck).
	lastAck chan struct{}
}

// smRequestEvery is how many stanzas the server sends before it asks the
// client for an ack on its own: often enough that an idle session's queue is
// empty (its memory back) soon after a burst, rarely enough to cost a few
// bytes per several stanzas.
const smRequestEvery = 5

// The server's stream management elements with no variable part.
const smRequest = "<r xmlns='" + nsSM + "'/>"

var smRequestBytes = []byte(smRequest)

const textTooManyUnacked = "too many unacknowledged stanzas"

// isStanza reports whether b, an encoded element the outbox holds, is a
// stanza (counted by stream management) rather than a stream management
// element or another nonza.
func isStanza(b []byte) bool {
	for _, name := range [...]string{"<message", "<presence", "<iq"} {
		if bytes.HasPrefix(b, []byte(name)) && len(b) > len(name) {
			switch b[len(name)] {
			case ' ', '>', '/':
				return true
			}
		}
	}
	return false
}

// smQueueLocked keeps stanza b unacked; false when max_unacked stanzas are
// already kept. Other elements pass.
func (o *outbox) smQueueLocked(b []byte) bool {
	if !isStanza(b) {
		return true
	}
	sm := o.sm
	if len(sm.unacked) >= sm.max {
		return false
	}
	sm.unacked = append(sm.unacked, b)
	sm.sinceR++
	return true
}

// enableSM turns stream management on: enabled (the <enabled/> element) is
// queued, and from there on every stanza counts. Both under one lock, so the
// client's count and the server's start at the same stanza.
func (o *outbox) enableSM(enabled []byte, max int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	if enabled != nil {
		o.pending = append(o.pending, enabled)
	}
	o.sm = &smOut{max: max}
	o.wakeLocked()
	return true
}

// ack applies the client's <a h/>: the stanzas it handled leave the queue.
// ok is false when h counts more stanzas than were sent; sent is how many
// were.
func (o *outbox) ack(h uint32) (sent uint32, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sm == nil {
		return 0, true // closing before it was enabled
	}
	return o.ackLocked(h)
}

func (o *outbox) ackLocked(h uint32) (uint32, bool) {
	sm := o.sm
	sent := sm.acked + uint32(len(sm.unacked))
	n := h - sm.acked // modulo 2^32, as XEP-0198 counts
	if n > uint32(len(sm.unacked)) {
		return sent, false
	}
	if sm.lastAck != nil {
		close(sm.lastAck)
		sm.lastAck = nil
	}
	clear(sm.unacked[:n])
	sm.unacked = sm.unacked[n:]
	if len(sm.unacked) == 0 {
		sm.unacked = nil // an idle session holds no queue
	}
	sm.acked = h
	return sent, true
}

// smLastAckWait bounds how long a session the server ends itself waits for
// the client's answer to its last <r/>: a round trip on a slow mobile
// network, short enough not to hold a shutdown up.
const smLastAckWait = time.Second

// smLastAck is the writer's last act before it ends a stream management
// session the server closes itself (close: a kick, a conflict, Shutdown),
// as Prosody does: while stanzas are unacked it sends <r/> and waits, at
// most smLastAckWait, for the client's <a/> (its read loop still reads), so
// that only what the client really did not handle is bounced or stored
// offline afterwards. Not when the client ended the stream or broke it: no
// <a/> can come then.
func (o *outbox) smLastAck(conn transport) {
	o.mu.Lock()
	sm := o.sm
	if sm == nil || !o.askAck || len(sm.unacked) == 0 {
		o.mu.Unlock()
		return
	}
	acked := make(chan struct{})
	sm.lastAck = acked
	o.mu.Unlock()
	conn.SetWriteDeadline(time.Now().Add(smLastAckWait))
	if conn.WriteElements([][]byte{smRequestBytes}) == nil {
		t := time.NewTimer(smLastAckWait)
		select {
		case <-acked:
		case <-t.C:
		}
		t.Stop()
	}
	o.mu.Lock()
	sm.lastAck = nil
	o.mu.Unlock()
}

// detach lets the connection go and keeps the session's stanzas (stream
// management resumption): false when the outbox was closed on purpose (a
// kill, the client's end), which no resumption survives. A writer that
// failed on the connection has closed it by the time detach returns; one
// still writing stops at its next batch and its failure counts for nothing.
func (o *outbox) detach() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sm == nil || (o.closed && !o.silent) {
		return false
	}
	if o.closed {
		// A failed write: the writer is closing the connection.
		done := o.done
		o.mu.Unlock()
		<-done
		o.mu.Lock()
		// The writer that closed the connection has exited without saying
		// so (it stays "writing" for an outbox that stays closed): the
		// resumed connection's start must find no writer.
		o.writing = false
		o.done = make(chan struct{})
		o.closed, o.silent, o.askAck = false, false, false
		o.endCond, o.endText, o.reason = "", "", ""
	}
	o.conn = nil
	o.detached = true
	o.pending = nil
	o.others = 0
	o.madeRoomLocked()
	return true
}

// takeOver detaches a connection that is still open (a resumption from a
// new one): it waits until no writer is writing on it and returns it, for
// the caller to end with a stream error; nil when there is none.
func (o *outbox) takeOver() (old transport, ok bool) {
	o.mu.Lock()
	old = o.conn
	o.mu.Unlock()
	if !o.detach() {
		return nil, false
	}
	// A writer busy with a batch finds the connection gone when the batch
	// is written (each write has the write timeout as its deadline) and
	// exits, and its exit moves the queue (madeRoomLocked). A connection
	// set meanwhile (start) is the writer's to write on.
	for left := false; !left; {
		o.awaitMove(o.timeout, func() bool {
			left = !o.writing || o.conn != nil
			return left
		})
	}
	return old, true
}

// reattach readies a detached outbox for a resumed stream: after the
// client's h, what it did not handle is queued again, in order, for the
// writer start will run on the new connection.
func (o *outbox) reattach(h uint32) (sent uint32, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if sent, ok := o.ackLocked(h); !ok {
		return sent, false
	}
	o.detached = false
	o.pending = append([][]byte(nil), o.sm.unacked...)
	if len(o.pending) > 0 {
		o.pending = append(o.pending, smRequestBytes)
	}
	o.sm.sinceR = 0
	return 0, true
}

// takeUnacked closes the outbox's stream management queue for good and
// returns what the client never acked, for the session's end to bounce or
// store.
func (o *outbox) takeUnacked() [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sm == nil {
		return nil
	}
	un := o.sm.unacked
	o.sm.unacked = nil
	o.closed = true // nothing more is kept
	return un
}
