package server

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// A lone stanza to an idle session over plaintext TCP is written by the
// goroutine that queues it: add returns with nothing pending and no writer
// started.
func TestOutboxWritesLoneStanzaNow(t *testing.T) {
	server, client := testkit.TCPPair(t)
	var o outbox
	o.init(8, 10*time.Second)
	o.start(testTransport(server), nil)
	var want strings.Builder
	for i := range 100 {
		s := fmt.Sprintf("<m%d/>", i)
		want.WriteString(s)
		if got := o.add([]byte(s)); got != added {
			t.Fatalf("add %d: %d", i, got)
		}
		o.mu.Lock()
		writing, pending := o.writing, len(o.pending)
		o.mu.Unlock()
		if writing || pending != 0 {
			t.Fatalf("after add %d: writer running %t, %d pending; want it written by add", i, writing, pending)
		}
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(client, got); err != nil || string(got) != want.String() {
		t.Fatalf("read %q, %v; want %q", got, err, want.String())
	}
}

// Senders queue at once, stanzas large enough that the socket's buffer
// fills while the client is not reading yet: what the socket takes in part
// is finished by the writer before anything else, so every sender's
// stanzas arrive whole and in its order.
func TestOutboxWriteNowKeepsOrder(t *testing.T) {
	server, client := testkit.TCPPair(t)
	var o outbox
	o.init(1<<20, 10*time.Second)
	o.start(testTransport(server), nil)
	const senders, each = 4, 200
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				pad := strings.Repeat("x", (i*7919)%30000)
				if got := o.add(fmt.Appendf(nil, "<m s='%d' i='%d'>%s</m>", s, i, pad)); got != added {
					t.Errorf("sender %d, stanza %d: add %d", s, i, got)
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let the socket's buffer fill
	read := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		read <- b
	}()
	wg.Wait()
	if !o.waitWritten(10 * time.Second) {
		t.Fatal("waitWritten: the outbox closed")
	}
	o.close("", "", "done")
	o.wait()
	b := <-read
	next := make([]int, senders)
	for len(b) > 0 && !bytes.HasPrefix(b, []byte(streamEnd)) {
		var s, i int
		if _, err := fmt.Sscanf(string(b[:min(len(b), 40)]), "<m s='%d' i='%d'>", &s, &i); err != nil {
			t.Fatalf("at %q: %v", b[:min(len(b), 40)], err)
		}
		if s < 0 || s >= senders || i != next[s] {
			t.Fatalf("sender %d's stanza %d, want %d", s, i, next[s])
		}
		next[s]++
		end := bytes.Index(b, []byte("</m>"))
		if pad := (i * 7919) % 30000; end < 0 || bytes.Count(b[:end], []byte("x")) != pad {
			t.Fatalf("sender %d's stanza %d is not whole", s, i)
		}
		b = b[end+len("</m>"):]
	}
	for s, n := range next {
		if n != each {
			t.Errorf("sender %d: %d stanzas arrived, want %d", s, n, each)
		}
	}
}
