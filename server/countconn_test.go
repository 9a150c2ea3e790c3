package server

import (
	"errors"
	"io"
	"net"
	"testing"
)

// pipeWith returns the server end of a pipe whose client end writes each
// chunk in turn, then closes.
func pipeWith(t *testing.T, chunks ...string) net.Conn {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close() })
	go func() {
		defer client.Close()
		for _, c := range chunks {
			if _, err := client.Write([]byte(c)); err != nil {
				return
			}
		}
	}()
	return server
}

func TestCountConnWaitReadableKeepsOrder(t *testing.T) {
	cc := newCountConn(pipeWith(t, "<message>", "hi</message>"), 0)
	var got []byte
	for {
		if err := cc.waitReadable(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("waitReadable: %v", err)
			}
			break
		}
		// Decode what is buffered and one byte beyond, as the XML decoder does.
		for {
			b, err := cc.ReadByte()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("ReadByte: %v", err)
				}
				break
			}
			got = append(got, b)
			if cc.r == cc.w {
				break
			}
		}
	}
	if string(got) != "<message>hi</message>" {
		t.Fatalf("got %q", got)
	}
	if cc.buf != nil {
		t.Error("an idle connection still holds its read buffer")
	}
}

func TestCountConnReadPassesBufferedBytesFirst(t *testing.T) {
	cc := newCountConn(pipeWith(t, "abcdef"), 0)
	if err := cc.waitReadable(); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 16)
	n, err := cc.Read(p[:2]) // from what waitReadable took, not the connection
	if err != nil || string(p[:n]) != "ab" {
		t.Fatalf("first Read: %q, %v", p[:n], err)
	}
	if cc.buf == nil {
		t.Fatal("Read dropped bytes still buffered")
	}
	n, err = cc.Read(p)
	if err != nil || string(p[:n]) != "cdef" {
		t.Fatalf("then: %q, %v", p[:n], err)
	}
	if cc.buf != nil {
		t.Error("Read left an empty buffer held")
	}
}

func TestCountConnLimit(t *testing.T) {
	cc := newCountConn(pipeWith(t, "abcdef"), 3)
	for i := range 3 {
		if _, err := cc.ReadByte(); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if _, err := cc.ReadByte(); !errors.Is(err, errStanzaTooLarge) || !cc.exceeded() {
		t.Fatalf("over the limit: %v, exceeded %v", err, cc.exceeded())
	}
	cc.reset()
	if b, err := cc.ReadByte(); err != nil || b != 'd' {
		t.Fatalf("after reset: %q, %v", b, err)
	}
}

// writeCounter counts the writes that reach the connection.
type writeCounter struct {
	net.Conn
	writes []string
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestCountConnCoalescesWritesUntilRead(t *testing.T) {
	wc := &writeCounter{Conn: pipeWith(t, "ab", "cd", "ef")}
	cc := newCountConn(wc, 0)
	cc.coalesce()
	cc.Write([]byte("<stream>"))
	cc.Write([]byte("<features/>"))
	if len(wc.writes) != 0 {
		t.Fatalf("written before the read: %q", wc.writes)
	}
	if _, err := cc.ReadByte(); err != nil {
		t.Fatal(err)
	}
	if len(wc.writes) != 1 || wc.writes[0] != "<stream><features/>" {
		t.Fatalf("first read: writes %q, want one", wc.writes)
	}
	cc.Write([]byte("<success/>"))
	p := make([]byte, 8)
	if _, err := cc.Read(p); err != nil { // the buffered "b": no network read, no flush needed
		t.Fatal(err)
	}
	if err := cc.waitReadable(); err != nil { // a network read: flushed first
		t.Fatal(err)
	}
	if len(wc.writes) != 2 || wc.writes[1] != "<success/>" {
		t.Fatalf("waitReadable: writes %q", wc.writes)
	}
	cc.Write([]byte("<iq/>"))
	if err := cc.endCoalescing(); err != nil || len(wc.writes) != 3 || wc.writes[2] != "<iq/>" {
		t.Fatalf("endCoalescing: %v, writes %q", err, wc.writes)
	}
	cc.Write([]byte("<message/>"))
	if len(wc.writes) != 4 {
		t.Fatalf("after endCoalescing writes are direct: %q", wc.writes)
	}
}

func TestCountConnCloseSendsHeldWrites(t *testing.T) {
	wc := &writeCounter{Conn: pipeWith(t)}
	cc := newCountConn(wc, 0)
	cc.coalesce()
	cc.Write([]byte("<stream:error/>"))
	cc.Close()
	if len(wc.writes) != 1 {
		t.Fatalf("Close dropped a held write: %q", wc.writes)
	}
}
