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
	n, err := cc.Read(p) // the byte waitReadable took, and nothing else
	if err != nil || string(p[:n]) != "a" {
		t.Fatalf("first Read: %q, %v", p[:n], err)
	}
	if cc.buf != nil {
		t.Error("Read left an empty buffer held")
	}
	n, err = io.ReadFull(cc, p[:5])
	if err != nil || string(p[:n]) != "bcdef" {
		t.Fatalf("then: %q, %v", p[:n], err)
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
