package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// startFloor runs the floor mode on a free port and returns its address.
func startFloor(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- runFloor(ctx, []string{"-addr", "127.0.0.1:0", "-mech", "PLAIN"}, pw, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("floor: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING ")
	if !ok {
		t.Fatalf("floor said %q", line)
	}
	go io.Copy(io.Discard, pr)
	return addr
}

// TestFloorServesLogins: the load tool's login, pipelined and step by step, completes
// against the floor, with the bind's JID, and its stream's end is answered.
func TestFloorServesLogins(t *testing.T) {
	addr := startFloor(t)
	for _, pipeline := range []bool{true, false} {
		tg := &target{addr: addr, host: "localhost", mech: "PLAIN", password: "bench", timeout: 5 * time.Second, pipeline: pipeline}
		if err := tg.init(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			s, err := newWorker(tg).login(context.Background(), "u0", "r")
			if err != nil {
				t.Fatalf("pipeline=%v, login %d: %v", pipeline, i, err)
			}
			if string(s.jid) != "floor@localhost/floor" {
				t.Errorf("jid %q", s.jid)
			}
			s.conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := s.conn.Write(s.end); err != nil {
				t.Fatal(err)
			}
			el, err := s.sc.next()
			if err != nil || el.Kind != kindEnd {
				t.Fatalf("pipeline=%v: after the stream's end: %v, %v; want the server's end", pipeline, el.Kind, err)
			}
			s.conn.Close()
		}
	}
}

// TestFloorWaitsForWholeSteps: an <auth/> cut anywhere gets no answer until it has all come.
func TestFloorWaitsForWholeSteps(t *testing.T) {
	script := floorScript("PLAIN")
	auth := []byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AHUwAGJlbmNo</auth>")
	for cut := range len(auth) {
		if got := script[1].end(auth[:cut]); got != -1 {
			t.Fatalf("cut at %d: end %d, want -1", cut, got)
		}
	}
	if got := script[1].end(auth); got != len(auth) {
		t.Fatalf("whole: end %d, want %d", got, len(auth))
	}
	header := []byte("<stream:stream to='localhost' version='1.0'>")
	if got := script[0].end(header[:len(header)-1]); got != -1 {
		t.Fatalf("a header without its > ends at %d", got)
	}
}
