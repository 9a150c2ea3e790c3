package server

import (
	"io"
	"net"
	"testing"
	"time"
)

// A stream management session whose connection failed under the writer (a
// write error) resumes on a new connection, and the writer started there
// sends what the client did not ack.
func TestOutboxResumeAfterFailedWrite(t *testing.T) {
	server, client := net.Pipe()
	var o outbox
	o.init(8, 50*time.Millisecond)
	o.enableSM(nil, 8)
	o.start(testTransport(server), nil)
	o.add([]byte("<message/>")) // never read: the write times out
	if reason := o.wait(); reason != "write failed: timeout" {
		t.Fatalf("reason %q", reason)
	}
	client.Close()
	if !o.detach() {
		t.Fatal("detach after a failed write: false")
	}
	if _, ok := o.reattach(0); !ok {
		t.Fatal("reattach: false")
	}
	server2, client2 := net.Pipe()
	defer client2.Close()
	o.start(testTransport(server2), nil)
	read := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		client2.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _ := io.ReadAtLeast(client2, buf, len("<message/>"))
		read <- string(buf[:n])
	}()
	if got := receive(t, read, "the resent stanza"); got != "<message/>"+smRequest && got != "<message/>" {
		t.Fatalf("read %q on the resumed connection", got)
	}
}

// takeOver waits for a writer busy on the old connection to let it go, and
// is woken by the writer's exit (not by its own re-check, an hour away
// here).
func TestOutboxTakeOverWaitsForWriter(t *testing.T) {
	// The write timeout (the writer's deadline, and takeOver's re-check) is
	// set before the writer starts: the writer reads it without the lock.
	o, client := stuckOutbox(t, time.Hour)
	o.mu.Lock()
	o.sm = &smOut{max: 8}
	oldConn := o.conn
	o.mu.Unlock()
	waitWriting(t, o)

	type result struct {
		old transport
		ok  bool
	}
	returned := make(chan result, 1)
	go func() {
		old, ok := o.takeOver()
		returned <- result{old, ok}
	}()
	select {
	case r := <-returned:
		t.Fatalf("takeOver returned %v while the writer was writing on the connection", r)
	case <-time.After(50 * time.Millisecond):
	}
	client.Close() // the stuck write fails; the writer finds the connection gone
	r := receive(t, returned, "takeOver once the writer let go")
	if !r.ok || r.old != oldConn {
		t.Fatalf("takeOver = %v, %t; want the old connection, true", r.old, r.ok)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writing || o.conn != nil || !o.detached || o.closed {
		t.Fatalf("after takeOver: writing %t, conn %v, detached %t, closed %t", o.writing, o.conn, o.detached, o.closed)
	}
}
