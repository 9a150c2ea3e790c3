package lastwrite_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/lastwrite"
	"github.com/xtokend/xtokend/internal/testkit"
)

// TestWriteThenEnd: the peer reads every byte, then the end of the stream,
// for a write that fits the socket's buffer and for one that must wait for
// the peer to read (several times the buffer).
func TestWriteThenEnd(t *testing.T) {
	for _, size := range []int{len("</stream:stream>"), 8 << 20} {
		w, r := testkit.TCPPair(t)
		p := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		got := make(chan []byte, 1)
		go func() {
			r.SetReadDeadline(time.Now().Add(30 * time.Second))
			b, err := io.ReadAll(r) // ends at the FIN; an error if none came
			if err != nil {
				t.Errorf("%d bytes: read: %v", size, err)
			}
			got <- b
		}()
		if err := lastwrite.Write(w, p); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if b := <-got; !bytes.Equal(b, p) {
			t.Errorf("%d bytes: the peer read %d bytes, not what was written", size, len(b))
		}
	}
}

// TestWriteUnderDeadline: a peer that reads nothing stops a write larger than
// the buffers at the connection's write deadline, as conn.Write would.
func TestWriteUnderDeadline(t *testing.T) {
	w, _ := testkit.TCPPair(t)
	w.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	done := make(chan error, 1)
	go func() { done <- lastwrite.Write(w, make([]byte, 64<<20)) }()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write = %v, want the deadline's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Write did not return at its deadline")
	}
}

// TestWriteOnClosed: a closed connection's error, not a hang or a panic.
func TestWriteOnClosed(t *testing.T) {
	w, _ := testkit.TCPPair(t)
	w.Close()
	if err := lastwrite.Write(w, []byte("x")); err == nil {
		t.Fatal("Write on a closed connection succeeded")
	}
}
