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
	o.start(testTransport(server))
	for i := 8; i < 100; i++ {
		for o.add(fmt.Appendf(nil, "<m%d/>", i)) == full {
			time.Sleep(time.Millisecond) // the pipe reader drains it
		}
	}
	// Wait for the queue to drain so close does not drop anything.
	for {
		o.mu.Lock()
		idle := !o.writing
		o.mu.Unlock()
		if idle {
			break
		}
		time.Sleep(time.Millisecond)
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
	o.start(testTransport(server))
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
	o.start(testTransport(server))
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

// With a writer running, closeHere leaves the trailer to it.
func TestOutboxCloseHereWithWriter(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	var o outbox
	o.init(8, 10*time.Second)
	o.add([]byte("<m/>"))
	o.start(testTransport(server)) // a writer starts, blocked on the pipe until read
	o.closeHere(condPolicyViolation, "end", "because")
	b, _ := io.ReadAll(client)
	if reason := o.wait(); reason != "because" {
		t.Errorf("reason %q", reason)
	}
	// The writer may have written <m/> before it saw the close, or not.
	end := string(streamErrorBytes(condPolicyViolation, "end"))
	if got := string(b); got != end && got != "<m/>"+end {
		t.Errorf("wrote %q", got)
	}
}

// testTransport is a TCP transport over c past negotiation, as a session's
// writer gets it.
func testTransport(c net.Conn) transport {
	t := newTCPTransport(c, "", 0)
	t.EndNegotiation()
	return t
}
