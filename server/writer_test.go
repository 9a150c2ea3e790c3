package server

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestOutbox(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	var o outbox
	o.init(8, 10*time.Second)

	// Queued before start (the bind gap), in order, up to the limit.
	for i := range 8 {
		if got := o.add(fmt.Appendf(nil, "<m%d/>", i)); got != added {
			t.Fatalf("add %d: %d", i, got)
		}
	}
	if got := o.add([]byte("<late/>")); got != full {
		t.Fatalf("add past the limit: %d, want full", got)
	}
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(client)
		read <- string(b)
	}()
	o.start(testTransport(server), nil)
	for i := 8; i < 100; i++ {
		for o.add(fmt.Appendf(nil, "<m%d/>", i)) == full {
			o.awaitFree(1, 10*time.Second) // the pipe reader drains it
		}
	}
	// Wait for the queue to drain so close does not drop anything.
	if !o.waitWritten(10 * time.Second) {
		t.Fatal("waitWritten: the outbox closed")
	}
	o.close(condPolicyViolation, "end", "because")
	o.close(condConflict, "again", "second reason")
	if reason := o.wait(); reason != "because" {
		t.Errorf("reason %q", reason)
	}
	var want strings.Builder
	for i := range 100 {
		fmt.Fprintf(&want, "<m%d/>", i)
	}
	want.Write(streamErrorBytes(condPolicyViolation, "end"))
	if got := <-read; got != want.String() {
		t.Errorf("wrote\n%s\nwant\n%s", got, want.String())
	}
	if got := o.add([]byte("<after/>")); got != gone {
		t.Errorf("add after close: %d, want gone", got)
	}
}

// A writer blocked on a client that does not read gives up at the deadline.
func TestOutboxWriteTimeout(t *testing.T) {
	server, client := net.Pipe() // unbuffered: nothing is read
	defer client.Close()
	var o outbox
	o.init(8, 50*time.Millisecond)
	o.start(testTransport(server), nil)
	o.add([]byte("<never-read/>"))
	if reason := o.wait(); reason != "write failed: timeout" {
		t.Errorf("reason %q", reason)
	}
}

// closeHere with no writer running writes the trailer on the caller's
// goroutine: when it returns the connection is closed and wait does not
// block. A later close changes nothing.
func TestOutboxCloseHere(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	var o outbox
	o.init(8, 10*time.Second)
	o.start(testTransport(server), nil)
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(client)
		read <- string(b)
	}()
	o.closeHere("", "", "closed by client")
	select {
	case <-o.done:
	default:
		t.Fatal("closeHere returned before the connection was closed")
	}
	o.close(condConflict, "late", "too late")
	if reason := o.wait(); reason != "closed by client" {
		t.Errorf("reason %q", reason)
	}
	if got := <-read; got != "</stream:stream>" {
		t.Errorf("wrote %q", got)
	}
}

// With a writer running, closeHere leaves the trailer to it, after what is
// pending: the answers to what the client sent before its stream ended.
func TestOutboxCloseHereWithWriter(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	var o outbox
	o.init(8, 10*time.Second)
	o.add([]byte("<m/>"))
	o.start(testTransport(server), nil) // a writer starts, blocked on the pipe until read
	o.addOwn([]byte("<answer/>"))
	o.closeHere(condPolicyViolation, "end", "because")
	b, _ := io.ReadAll(client)
	if reason := o.wait(); reason != "because" {
		t.Errorf("reason %q", reason)
	}
	if got, want := string(b), "<m/><answer/>"+string(streamErrorBytes(condPolicyViolation, "end")); got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

// closeHere with no writer running writes what is pending, then the end.
func TestOutboxCloseHereKeepsPending(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	var o outbox
	o.init(8, 10*time.Second)
	o.addOwn([]byte("<pong/>")) // before start: no writer
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(client)
		read <- string(b)
	}()
	o.mu.Lock()
	o.conn = testTransport(server) // started, but no writer woken
	o.mu.Unlock()
	o.closeHere("", "", "closed by client")
	if got := <-read; got != "<pong/></stream:stream>" {
		t.Errorf("wrote %q", got)
	}
}

// The session's own stanzas wait for room (backpressure); others' never
// wait, and only they count toward the limit that cuts a client off.
func TestOutboxOwnWaitsOthersDoNot(t *testing.T) {
	server, client := net.Pipe() // unbuffered: each write waits for a read
	defer client.Close()
	var o outbox
	o.init(4, 10*time.Second)
	o.start(testTransport(server), nil)

	// Fill the queue with own stanzas: the writer takes the first and
	// blocks on the pipe; the next four fill the queue.
	for i := range 5 {
		if got := o.addOwn(fmt.Appendf(nil, "<own%d/>", i)); got != added {
			t.Fatalf("addOwn %d: %d", i, got)
		}
		if i == 0 {
			waitWriting(t, &o)
		}
	}
	// Others' stanzas still fit: the queue's own stanzas are not theirs.
	for i := range 4 {
		if got := o.add(fmt.Appendf(nil, "<other%d/>", i)); got != added {
			t.Fatalf("add %d with the queue full of own stanzas: %d, want added", i, got)
		}
	}
	if got := o.add([]byte("<other4/>")); got != full {
		t.Fatalf("add past the limit of others' stanzas: %d, want full", got)
	}
	// An own stanza now waits until the client reads.
	done := make(chan int)
	go func() { done <- o.addOwn([]byte("<own5/>")) }()
	select {
	case got := <-done:
		t.Fatalf("addOwn on a full queue returned %d without waiting", got)
	case <-time.After(50 * time.Millisecond): // not a timing assertion: it must not have returned
	}
	var got strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "<own5/>") {
		n, err := client.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(buf[:n])
		select {
		case r := <-done:
			if r != added {
				t.Fatalf("addOwn after room was made: %d", r)
			}
			done = nil
		default:
		}
	}
	want := "<own0/><own1/><own2/><own3/><own4/><other0/><other1/><other2/><other3/><own5/>"
	if got.String() != want {
		t.Errorf("wrote %q, want %q", got.String(), want)
	}
}

// A waiting addOwn returns gone when the outbox closes (the client stopped
// reading: the writer's deadline passed), rather than wait for ever.
func TestOutboxOwnWaitEndsOnClose(t *testing.T) {
	server, client := net.Pipe() // nothing is ever read
	defer client.Close()
	var o outbox
	o.init(1, 50*time.Millisecond)
	o.start(testTransport(server), nil)
	o.addOwn([]byte("<a/>"))
	waitWriting(t, &o)
	o.addOwn([]byte("<b/>"))
	if got := o.addOwn([]byte("<c/>")); got != gone {
		t.Errorf("addOwn on a client that never reads: %d, want gone", got)
	}
	if reason := o.wait(); reason != "write failed: timeout" {
		t.Errorf("reason %q", reason)
	}
}

// waitWriting waits until the writer has taken the queue.
func waitWriting(t *testing.T, o *outbox) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		o.mu.Lock()
		taken := o.writing && len(o.pending) == 0
		o.mu.Unlock()
		if taken {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer did not take the queue")
		}
	}
}

// testTransport is a TCP transport over c past negotiation, as a session's
// writer gets it.
func testTransport(c net.Conn) transport {
	t := newTCPTransport(c, "", 0)
	t.EndNegotiation()
	return t
}

// waitWritten returns true once the writer wrote all that was queued (over
// an unbuffered pipe, so not before the reader took the bytes), false when
// the outbox closes first, and true at the timeout while the writer is
// still writing.
func TestOutboxWaitWritten(t *testing.T) {
	t.Run("written", func(t *testing.T) {
		server, client := net.Pipe()
		defer client.Close()
		var o outbox
		o.init(8, 10*time.Second)
		if !o.waitWritten(time.Nanosecond) {
			t.Fatal("waitWritten on an empty outbox: false")
		}
		o.start(testTransport(server), nil)
		const want = "<a/><b/><c/>"
		o.add([]byte("<a/>"))
		o.add([]byte("<b/>"))
		o.add([]byte("<c/>"))
		read := make(chan string, 1)
		returned := make(chan bool, 1)
		go func() { returned <- o.waitWritten(time.Hour) }()
		go func() {
			var got []byte
			buf := make([]byte, 64)
			for len(got) < len(want) {
				n, err := client.Read(buf)
				if err != nil {
					break
				}
				got = append(got, buf[:n]...)
				if len(got) < len(want) {
					select {
					case <-returned:
						t.Errorf("waitWritten returned with %q of %q read", got, want)
					default:
					}
				}
			}
			read <- string(got)
		}()
		if got := <-read; got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
		if !receive(t, returned, "waitWritten once all was written") {
			t.Fatal("waitWritten = false, want true")
		}
	})
	t.Run("closed", func(t *testing.T) {
		o, client := stuckOutbox(t, 10*time.Second)
		returned := make(chan bool, 1)
		go func() { returned <- o.waitWritten(time.Hour) }()
		o.close("", "", "test")
		client.Close() // the writer's trailer fails at once
		if receive(t, returned, "waitWritten when the outbox closed") {
			t.Fatal("waitWritten = true on an outbox that closed, want false")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		o, _ := stuckOutbox(t, 10*time.Second)
		if !o.waitWritten(20 * time.Millisecond) {
			t.Fatal("waitWritten = false at the timeout with the writer busy, want true")
		}
		o.mu.Lock()
		writing := o.writing
		o.mu.Unlock()
		if !writing {
			t.Fatal("the writer finished with nothing read")
		}
	})
}

// awaitFree waits for room from the writer, returns what there is at the
// timeout, and -1 once the outbox closes.
func TestOutboxAwaitFree(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	var o outbox
	o.init(4, 10*time.Second)
	for i := range 4 {
		o.add(fmt.Appendf(nil, "<m%d/>", i))
	}
	// No connection yet, so no writer: the queue stays full.
	if got := o.awaitFree(1, 20*time.Millisecond); got != 0 {
		t.Fatalf("awaitFree with a full queue and no writer: %d, want 0", got)
	}
	go io.Copy(io.Discard, client)
	o.start(testTransport(server), nil)
	if got := o.awaitFree(4, 10*time.Second); got != 4 {
		t.Fatalf("awaitFree once the writer took the queue: %d, want 4", got)
	}
	returned := make(chan int, 1)
	o.mu.Lock() // hold the queue full with no writer to move it
	o.others = o.limit
	o.mu.Unlock()
	go func() { returned <- o.awaitFree(1, time.Hour) }()
	o.close("", "", "test")
	if got := receive(t, returned, "awaitFree when the outbox closed"); got != -1 {
		t.Fatalf("awaitFree on an outbox that closed: %d, want -1", got)
	}
}

// stuckOutbox is an outbox whose writer is stuck writing a stanza to a
// client that reads nothing (client: close it to end the write).
func stuckOutbox(t *testing.T, timeout time.Duration) (*outbox, net.Conn) {
	server, client := net.Pipe()
	t.Cleanup(func() { client.Close() })
	o := new(outbox)
	o.init(8, timeout)
	o.start(testTransport(server), nil)
	o.add([]byte("<never-read/>"))
	return o, client
}

// receive returns what ch gives, failing the test if what does not happen
// within ten seconds.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no return from %s", what)
	}
	var zero T
	return zero
}
