package server

import (
	"io"
	"net"
	"strings"
	"testing"
)

// TestTCPTransportWrites: what negotiation writes is held back and goes out
// in one write before the next read; a session's batch goes out as the
// elements joined, in order; the stream's end and errors are the bytes of
// RFC 6120.
func TestTCPTransportWrites(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	tr := newTCPTransport(server, "192.0.2.1", 0)
	if tr.Secure() || !tr.CanStartTLS() || tr.RemoteIP() != "192.0.2.1" {
		t.Fatalf("plain TCP: Secure %t, CanStartTLS %t, RemoteIP %q", tr.Secure(), tr.CanStartTLS(), tr.RemoteIP())
	}
	got := make(chan string, 8)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := client.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- string(buf[:n])
		}
	}()

	// Negotiation: header and features, then an answer, in one write.
	if err := tr.WriteStreamOpen("localhost", "alice@localhost", featuresSASL); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.WriteString(answerProceed); err != nil {
		t.Fatal(err)
	}
	if err := tr.EndNegotiation(); err != nil {
		t.Fatal(err)
	}
	first := <-got
	if !strings.HasPrefix(first, "<?xml version='1.0'?><stream:stream ") ||
		!strings.Contains(first, " to='alice@localhost' from='localhost'>") ||
		!strings.HasSuffix(first, featuresSASL+answerProceed) {
		t.Errorf("negotiation wrote %q", first)
	}

	// A session's batch: one write, the elements in order.
	if err := tr.WriteElements([][]byte{[]byte("<a/>"), []byte("<b/>"), []byte("<c/>")}); err != nil {
		t.Fatal(err)
	}
	if b := <-got; b != "<a/><b/><c/>" {
		t.Errorf("batch wrote %q", b)
	}
	if err := tr.WriteElements([][]byte{[]byte("<only/>")}); err != nil {
		t.Fatal(err)
	}
	if b := <-got; b != "<only/>" {
		t.Errorf("batch of one wrote %q", b)
	}
	if err := tr.WriteStreamError(condPolicyViolation, "too big"); err != nil {
		t.Fatal(err)
	}
	if b, want := <-got, string(streamErrorBytes(condPolicyViolation, "too big")); b != want {
		t.Errorf("stream error %q, want %q", b, want)
	}
	if err := tr.WriteStreamClose(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; b != "</stream:stream>" {
		t.Errorf("stream close %q", b)
	}
	tr.Close()
	if _, ok := <-got; ok {
		t.Error("bytes after Close")
	}
}

// TestTCPTransportReads: the stream reader counts against the stanza limit
// until ResetCount, and Exceeded says the limit stopped it.
func TestTCPTransportReads(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	tr := newTCPTransport(server, "", 8)
	go client.Write([]byte("<abc/><defghij/>"))
	r := tr.StreamReader().(io.ByteReader)
	for i := range 8 {
		if _, err := r.ReadByte(); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if _, err := r.ReadByte(); err == nil || !tr.Exceeded() {
		t.Fatalf("the ninth byte: %v, exceeded %t", err, tr.Exceeded())
	}
	tr.ResetCount()
	if b, err := r.ReadByte(); err != nil || b != 'e' {
		t.Errorf("after ResetCount: %q, %v", b, err)
	}
	tr.DoneReading()
}
