package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The resume command against the real server, plaintext and with STARTTLS: every drop is
// followed by a resumption of the same session, none fails.
func TestResumeAgainstXtokend(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		srv := startXtokend(t, useTLS)
		results := filepath.Join(t.TempDir(), "results.jsonl")
		args := []string{"resume", "-addr", srv.addr, "-server", "xtokend", "-secret-file", srv.secretFile, "-seed-file", srv.seedFile,
			"-server-pid", fmt.Sprint(srv.cmd.Process.Pid), "-c", "1,3", "-duration", "300ms", "-warmup", "50ms", "-json", results, fmt.Sprintf("-tls=%v", useTLS)}
		var stdout, stderr lockedBuffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exited %d\n%s\n%s", args, code, stdout.String(), stderr.String())
		}
		rs, err := readResults(results)
		if err != nil || len(rs) != 2 {
			t.Fatalf("tls=%v: want two result lines: %v, %+v", useTLS, err, rs)
		}
		for i, r := range rs {
			if r.Server != "xtokend" || r.Mode != "resume" || r.TLS != useTLS || r.Concurrency != []int{1, 3}[i] {
				t.Errorf("tls=%v: result %d: %+v", useTLS, i, r)
			}
			if r.Ops == 0 || r.Errors != 0 || r.Rate <= 0 || r.P50ms <= 0 || r.ServerCPUus <= 0 {
				t.Errorf("tls=%v c=%d: %d ops, %d errors (%s), %+v", useTLS, r.Concurrency, r.Ops, r.Errors, r.FirstError, r)
			}
		}
	}
}

// A resumption the server refuses (an id naming no session) is an error that says what the
// server answered, and a new session can be started and resumed after it.
func TestResumeFailedAgainstXtokend(t *testing.T) {
	srv := startXtokend(t, false)
	c := common{addr: srv.addr, host: "localhost", mech: "X-TOKEN", secretFile: srv.secretFile, seedFile: srv.seedFile,
		otpDigits: 8, otpPeriod: 30, nonceDigits: 32, timeout: 5 * time.Second, pipeline: true}
	tg, err := c.target()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := &smWorker{w: newWorker(tg), user: "u0", resource: "sm0"}
	if err := m.start(ctx); err != nil {
		t.Fatal(err)
	}
	id := m.id
	m.drop()
	m.id = []byte("no-such-session")
	err = m.resume(ctx)
	if err == nil || !strings.Contains(err.Error(), "<failed") || !strings.Contains(err.Error(), "item-not-found") {
		t.Fatalf("resuming an unknown id: %v", err)
	}
	m.drop()
	m.id = id // the session dropped above is still there to resume
	if err := m.resume(ctx); err != nil {
		t.Fatalf("resuming the dropped session: %v", err)
	}
	m.drop()
	if err := m.resume(ctx); err != nil {
		t.Fatalf("resuming it a second time: %v", err)
	}
	m.s.close(time.Second)
}

// An ack request during a resumption is answered with the stanzas handled so far.
func TestResumeAnswersAckRequests(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	m := &smWorker{s: &session{conn: client}}
	for _, raw := range []string{"<message from='a@localhost'/>", "<presence/>", "<iq type='get' id='1'/>"} {
		if err := m.handle(element{Kind: kindChild, Name: []byte(strings.Fields(strings.Trim(raw, "</>"))[0]), Raw: []byte(raw)}); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 100)
		n, _ := server.Read(buf)
		got <- string(buf[:n])
	}()
	if err := m.handle(element{Kind: kindChild, Name: []byte("r"), Raw: []byte("<r xmlns='urn:xmpp:sm:3'/>")}); err != nil {
		t.Fatal(err)
	}
	if a := <-got; a != "<a xmlns='urn:xmpp:sm:3' h='3'/>" {
		t.Errorf("answer %q", a)
	}
}

// The wire of one resumption: SASL, then the new stream's header with <resume/> naming the
// session and the stanzas handled so far; an ack request before <resumed/> is answered, a
// stanza counted; <failed/> is an error.
func TestResumeWire(t *testing.T) {
	const features = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>"
	for _, tc := range []struct {
		name, last, wantErr string
	}{
		{"resumed", "<resumed xmlns='urn:xmpp:sm:3' h='0' previd='abc'/>", ""},
		{"failed", "<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>", "item-not-found"},
		{"another session", "<resumed xmlns='urn:xmpp:sm:3' h='0' previd='xyz'/>", "resumed another session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, done := scriptedServer(t, []turn{
				{want: "</auth>", answer: srvHeader + srvSASL + srvSuccess},
				{want: "<resume xmlns='urn:xmpp:sm:3' h='5' previd='abc'/>", answer: srvHeader + features +
					"<message from='a@localhost' to='u0@localhost/sm0'><body>x</body></message><r xmlns='urn:xmpp:sm:3'/>"},
				{want: "<a xmlns='urn:xmpp:sm:3' h='6'/>", answer: tc.last},
			})
			c := common{addr: addr, host: "localhost", mech: "PLAIN", password: "bench", timeout: 5 * time.Second, pipeline: true}
			tg, err := c.target()
			if err != nil {
				t.Fatal(err)
			}
			m := &smWorker{w: newWorker(tg), user: "u0", id: []byte("abc"), h: 5}
			err = m.resume(context.Background())
			m.drop()
			if serr := <-done; serr != nil {
				t.Fatal(serr)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("resume: %v, want %q", err, tc.wantErr)
			}
			if m.h != 6 {
				t.Errorf("h = %d after one stanza, want 6", m.h)
			}
		})
	}
}
