package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// scriptedServer accepts one connection and plays turns: it reads until what arrived since
// the last turn contains want, checks it, then writes answer. What each read brought in
// before the first answer of a turn tells whether the client waited for the features.
type turn struct {
	want   string // read until the bytes of this turn contain it
	refuse string // and fail if they contain this (what a step-by-step client must not have sent yet)
	answer string
}

func scriptedServer(t *testing.T, turns []turn) (addr string, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			for i, tn := range turns {
				var got []byte
				for !bytes.Contains(got, []byte(tn.want)) {
					n, err := c.Read(buf)
					if err != nil {
						return fmt.Errorf("turn %d: waiting for %q: %v (got %q)", i, tn.want, err, got)
					}
					got = append(got, buf[:n]...)
				}
				if tn.refuse != "" && bytes.Contains(got, []byte(tn.refuse)) {
					return fmt.Errorf("turn %d: %q came before the features: %q", i, tn.refuse, got)
				}
				if _, err := c.Write([]byte(tn.answer)); err != nil {
					return err
				}
			}
			return nil
		}()
	}()
	return ln.Addr().String(), errc
}

const (
	srvHeader     = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='x' from='localhost'>"
	srvSASL       = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
	srvSASL2      = "<stream:features><authentication xmlns='urn:xmpp:sasl:2'><mechanism>PLAIN</mechanism><inline><bind xmlns='urn:xmpp:bind:0'/></inline></authentication></stream:features>"
	srvBind       = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
	srvSuccess    = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
	srvBindResult = "<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>u0@localhost/r</jid></bind></iq>"
	srvSuccess2   = "<success xmlns='urn:xmpp:sasl:2'><authorization-identifier>u0@localhost/bench.x</authorization-identifier><bound xmlns='urn:xmpp:bind:0'/></success>"
)

// TestLoginPipelining checks the wire of a login: pipelined, each stream's header and first
// element come in one write, before any features; step by step, the element waits for them.
func TestLoginPipelining(t *testing.T) {
	for _, tc := range []struct {
		name            string
		pipeline, sasl2 bool
		turns           []turn
		jid             string
	}{
		{"pipelined", true, false, []turn{
			{want: "</auth>", answer: srvHeader + srvSASL + srvSuccess},
			{want: "</iq>", answer: srvHeader + srvBind + srvBindResult},
		}, "u0@localhost/r"},
		{"step by step", false, false, []turn{
			{want: "<stream:stream", refuse: "<auth", answer: srvHeader + srvSASL},
			{want: "</auth>", answer: srvSuccess},
			{want: "<stream:stream", refuse: "<iq", answer: srvHeader + srvBind},
			{want: "</iq>", answer: srvBindResult},
		}, "u0@localhost/r"},
		{"SASL2 pipelined", true, true, []turn{
			{want: "</authenticate>", answer: srvHeader + srvSASL2 + srvSuccess2},
		}, "u0@localhost/bench.x"},
		{"SASL2 step by step", false, true, []turn{
			{want: "<stream:stream", refuse: "<authenticate", answer: srvHeader + srvSASL2},
			{want: "</authenticate>", answer: srvSuccess2},
		}, "u0@localhost/bench.x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, done := scriptedServer(t, tc.turns)
			tg := &target{addr: addr, host: "localhost", mech: "PLAIN", password: "bench", timeout: 5 * time.Second, pipeline: tc.pipeline, sasl2: tc.sasl2}
			if err := tg.init(); err != nil {
				t.Fatal(err)
			}
			s, err := newWorker(tg).login(context.Background(), "u0", "r")
			if err != nil {
				t.Fatalf("login: %v (server: %v)", err, <-done)
			}
			defer s.closeNow()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if string(s.jid) != tc.jid {
				t.Errorf("jid %q, want %q", s.jid, tc.jid)
			}
		})
	}
}

// TestLoginChecksFeatures: a pipelined login still fails when the features do not offer
// what it sent.
func TestLoginChecksFeatures(t *testing.T) {
	addr, _ := scriptedServer(t, []turn{{want: "</auth>", answer: srvHeader + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>" +
		"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-mechanism/></failure>"}})
	tg := &target{addr: addr, host: "localhost", mech: "PLAIN", password: "bench", timeout: 5 * time.Second, pipeline: true}
	if err := tg.init(); err != nil {
		t.Fatal(err)
	}
	_, err := newWorker(tg).login(context.Background(), "u0", "r")
	if err == nil || !strings.Contains(err.Error(), ">PLAIN< not offered") {
		t.Fatalf("login: %v, want PLAIN not offered", err)
	}
}

// TestLoginsAgainstXtokend runs the logins mode against the real server built from this
// tree: RFC 6120 logins and SASL2 ones, pipelined and step by step, plaintext and STARTTLS.
func TestLoginsAgainstXtokend(t *testing.T) {
	servers := map[bool]*soakServer{false: startXtokend(t, false), true: startXtokend(t, true)}
	results := filepath.Join(t.TempDir(), "results.jsonl")
	var want []string
	for _, tls := range []bool{false, true} {
		for _, sasl2 := range []bool{false, true} {
			for _, pipeline := range []bool{true, false} {
				srv := servers[tls]
				args := []string{"logins", "-addr", srv.addr, "-server", "xtokend", "-secret-file", srv.secretFile, "-seed-file", srv.seedFile,
					"-c", "2", "-duration", "300ms", "-warmup", "0s", "-json", results, fmt.Sprintf("-pipeline=%v", pipeline), fmt.Sprintf("-sasl2=%v", sasl2), fmt.Sprintf("-tls=%v", tls)}
				var stdout, stderr lockedBuffer
				if code := run(args, &stdout, &stderr); code != 0 {
					t.Fatalf("%v: exited %d\n%s\n%s", args, code, stdout.String(), stderr.String())
				}
				// readResults files -sasl2's mode, logins-sasl2, as a series of its own.
				series := "xtokend"
				if sasl2 {
					series = sasl2Server
				}
				want = append(want, fmt.Sprintf("%s %s tls=%v pipelined=%v", series, "logins", tls, pipeline))
			}
		}
	}
	rs, err := readResults(results)
	if err != nil || len(rs) != len(want) {
		t.Fatalf("results: %v, %d of %d", err, len(rs), len(want))
	}
	for i, r := range rs {
		if got := fmt.Sprintf("%s %s tls=%v pipelined=%v", r.Server, r.Mode, r.TLS, r.Pipelined); got != want[i] {
			t.Errorf("result %d is %s, want %s", i, got, want[i])
		}
		if r.Ops == 0 || r.Errors != 0 {
			t.Errorf("%s: %d ops, %d errors (%s)", want[i], r.Ops, r.Errors, r.FirstError)
		}
	}
}

// TestLoginSASL2Failure: a SASL2 <failure/> fails the login with what the server said.
func TestLoginSASL2Failure(t *testing.T) {
	addr, _ := scriptedServer(t, []turn{{want: "</authenticate>", answer: srvHeader + srvSASL2 +
		"<failure xmlns='urn:xmpp:sasl:2'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>"}})
	tg := &target{addr: addr, host: "localhost", mech: "PLAIN", password: "bench", timeout: 5 * time.Second, pipeline: true, sasl2: true}
	if err := tg.init(); err != nil {
		t.Fatal(err)
	}
	_, err := newWorker(tg).login(context.Background(), "u0", "r")
	if err == nil || !strings.Contains(err.Error(), "sasl2: failure: ") || !strings.Contains(err.Error(), "not-authorized") {
		t.Fatalf("login: %v, want the SASL2 failure", err)
	}
}

// TestLoginsCountErrors: logins that fail (here the dial: nobody listens) are counted as
// errors, with the first one's text, not as logins.
func TestLoginsCountErrors(t *testing.T) {
	addr := closedAddr(t)
	results := filepath.Join(t.TempDir(), "results.jsonl")
	var stdout, stderr lockedBuffer
	args := []string{"logins", "-addr", addr, "-mech", "PLAIN", "-c", "2", "-duration", "200ms", "-warmup", "0s", "-json", results}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exited %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	rs, err := readResults(results)
	if err != nil || len(rs) != 1 {
		t.Fatalf("results: %v, %d", err, len(rs))
	}
	if r := rs[0]; r.Ops != 0 || r.Errors == 0 || !strings.Contains(r.FirstError, "dial: dial tcp "+addr+": connect: connection refused") {
		t.Errorf("%d ops, %d errors, first %q; want only errors, refused at dial", r.Ops, r.Errors, r.FirstError)
	}
}

// listen4 listens on 127.0.0.1 at a port of its own, closed at the test's end.
func listen4(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// closedAddr is a loopback host:port where nobody listens (any longer).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln := listen4(t)
	ln.Close()
	return ln.Addr().String()
}
