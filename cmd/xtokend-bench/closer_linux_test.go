package main

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// closeQueue: a session's stream end goes at once; the session is closed only once the
// server's end has come (or it waited too long), without the worker ever waiting for it.
func TestCloseQueue(t *testing.T) {
	ln := listen4(t)
	tg := &target{addr: ln.Addr().String(), host: "localhost", timeout: 2 * time.Second}
	// open returns a session (over the tool's dialer) inside a stream, and the server's side.
	open := func() (*session, net.Conn) {
		t.Helper()
		conn, srv := dialAccept(t, tg, ln)
		s := &session{conn: conn, sc: newScanner(conn, 2048, 1<<20), end: streamEnd}
		s.nw, _ = conn.(noWaiter)
		if s.nw == nil {
			t.Fatalf("a %T cannot read without waiting", conn)
		}
		srv.Write([]byte(srvHeader))
		if el, err := s.sc.next(); err != nil || el.Kind != kindHeader {
			t.Fatalf("header: %v %v", el, err)
		}
		return s, srv
	}
	// gotEnd waits for the tool's stream end on the server's side.
	gotEnd := func(srv net.Conn) {
		t.Helper()
		srv.SetReadDeadline(time.Now().Add(2 * time.Second))
		var got []byte
		buf := make([]byte, 64)
		for !bytes.Contains(got, streamEnd) {
			n, err := srv.Read(buf)
			if err != nil {
				t.Fatalf("server: %v (got %q)", err, got)
			}
			got = append(got, buf[:n]...)
		}
	}
	// closed reports whether the tool closed its side (the server reads EOF).
	closed := func(srv net.Conn) bool {
		srv.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := srv.Read(make([]byte, 1))
		return err == io.EOF
	}

	cq := closeQueue{wait: time.Hour}
	late, lateSrv := open()
	quick, quickSrv := open()
	for _, s := range []*session{late, quick} {
		if !cq.add(s) {
			t.Fatal("a TCP session was not queued")
		}
	}
	gotEnd(lateSrv)
	gotEnd(quickSrv)

	// The server answers the second session only: the first is still waiting, and reap,
	// which goes oldest first, closes neither.
	quickSrv.Write([]byte("<message/>" + string(streamEnd)))
	start := time.Now()
	cq.reap()
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("reap waited %v", d)
	}
	if len(cq.q) != 2 || closed(lateSrv) {
		t.Fatalf("after reap: %d queued, the first closed: want both queued", len(cq.q))
	}
	// The first's end comes: reap closes both.
	lateSrv.Write(streamEnd)
	time.Sleep(20 * time.Millisecond)
	cq.reap()
	if len(cq.q) != 0 || !closed(lateSrv) || !closed(quickSrv) {
		t.Fatalf("after both ends: %d queued, want none and both closed", len(cq.q))
	}

	// A server that never answers: the session is closed once it has waited cq.wait.
	cq.wait = 50 * time.Millisecond
	mute, muteSrv := open()
	cq.add(mute)
	gotEnd(muteSrv)
	cq.reap()
	if len(cq.q) != 1 {
		t.Fatalf("reap closed a session before its wait")
	}
	time.Sleep(60 * time.Millisecond)
	cq.reap()
	if len(cq.q) != 0 || !closed(muteSrv) {
		t.Fatal("a session that waited past cq.wait is still open")
	}

	// drain waits for the end, within the time left.
	last, lastSrv := open()
	cq.wait = 2 * time.Second
	cq.add(last)
	gotEnd(lastSrv)
	go func() {
		time.Sleep(30 * time.Millisecond)
		lastSrv.Write(streamEnd)
	}()
	start = time.Now()
	cq.drain()
	if d := time.Since(start); d < 25*time.Millisecond || d > time.Second || !closed(lastSrv) {
		t.Errorf("drain returned after %v (want about 30ms), closed %v", d, closed(lastSrv))
	}
}
