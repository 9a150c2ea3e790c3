package server

import (
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// TestParkerWakes: a parked socket's wake job runs once its client sends,
// and again (after parking anew) when the server closes the connection;
// meanwhile the session has no goroutine and is counted as parked. A
// closing connection does not park.
func TestParkerWakes(t *testing.T) {
	pool := new(negotiatorPool)
	p, err := newParker(pool)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	server, client := testkit.TCPPair(t)
	tr := newTCPTransport(server, "127.0.0.1", 0)
	tr.EndNegotiation()
	tr.park.p = p
	woken := make(chan string, 2)
	wake := func(why string) job { return funcJob(func() { woken <- why }) }
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-woken:
			if got != want {
				t.Fatalf("woken for %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("not woken for %q", want)
		}
	}

	if !tr.Park(wake("bytes")) {
		t.Fatal("a plaintext socket did not park")
	}
	if tr.Park(wake("twice")) {
		t.Fatal("a parked socket parked again")
	}
	if n := p.count(); n != 1 {
		t.Fatalf("%d parked, want 1", n)
	}
	select {
	case why := <-woken:
		t.Fatalf("woken for %q before the client sent", why)
	case <-time.After(50 * time.Millisecond):
	}
	client.Write([]byte("<iq/>"))
	expect("bytes")
	if n := p.count(); n != 0 {
		t.Fatalf("%d parked after the wake, want 0", n)
	}

	// The bytes are still unread: level-triggered, parking again wakes at once.
	if !tr.Park(wake("unread")) {
		t.Fatal("no second park")
	}
	expect("unread")
	buf := make([]byte, 16)
	server.Read(buf)

	if !tr.Park(wake("close")) {
		t.Fatal("no third park")
	}
	tr.Close()
	expect("close")
	if tr.Park(wake("after close")) {
		t.Fatal("a closed connection parked")
	}
	if n := p.count(); n != 0 {
		t.Fatalf("%d parked at the end, want 0", n)
	}
}
