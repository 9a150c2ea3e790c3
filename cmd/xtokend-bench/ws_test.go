package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The scanner over RFC 7395 framing: a self-closed <open/> is the header, <close/> the end.
func TestScannerWebSocketFraming(t *testing.T) {
	in := `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost' id='a1' version='1.0'/>` +
		`<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>X-TOKEN</mechanism></mechanisms></stream:features>` +
		`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`
	for _, ws := range []bool{true, false} {
		sc := newScanner(strings.NewReader(in), 16, 1<<16)
		sc.ws = ws
		var got []string
		for {
			el, err := sc.next()
			if err != nil {
				break
			}
			got = append(got, fmt.Sprintf("%d:%s", el.Kind, el.Local()))
		}
		want := "1:open 2:features 3:close"
		if !ws {
			want = "1:open 2:features 2:close" // TCP framing: <close/> is just a child
		}
		if strings.Join(got, " ") != want {
			t.Errorf("ws=%v: got %v, want %s", ws, got, want)
		}
	}
}

func TestWebSocketFlags(t *testing.T) {
	for _, args := range [][]string{
		{"logins", "-ws", "ws://192.0.2.1:5280/xmpp-websocket", "-mech", "PLAIN"}, // not loopback
		{"logins", "-ws", "http://127.0.0.1:5280/xmpp-websocket", "-mech", "PLAIN"},
		{"logins", "-ws", "ws://127.0.0.1:5280/xmpp-websocket", "-mech", "PLAIN", "-tls"}, // no STARTTLS over WebSocket
	} {
		var stderr strings.Builder
		if code := run(args, os.Stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

// Every mode over WebSocket against the real server: logins, messages, idle, soak.
func TestWebSocketAgainstXtokend(t *testing.T) {
	srv := startXtokend(t, false)
	wsAddr := strings.TrimSuffix(strings.TrimPrefix(srv.ws, "ws://"), "/xmpp-websocket")
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", wsAddr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WebSocket listener: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	keys := []string{"-ws", srv.ws, "-server", "xtokend", "-mech", "X-TOKEN", "-secret-file", srv.secretFile, "-seed-file", srv.seedFile,
		"-server-pid", fmt.Sprint(srv.cmd.Process.Pid)}
	results := filepath.Join(t.TempDir(), "results.jsonl")

	var stdout, stderr lockedBuffer
	args := append([]string{"logins"}, keys...)
	args = append(args, "-c", "2", "-duration", "500ms", "-warmup", "0s", "-json", results)
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("logins exited %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	args = append([]string{"messages"}, keys...)
	args = append(args, "-pairs", "1", "-duration", "500ms", "-warmup", "0s", "-json", results)
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("messages exited %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	rs, err := readResults(results)
	if err != nil || len(rs) != 2 {
		t.Fatalf("results: %v, %+v", err, rs)
	}
	for _, r := range rs {
		if r.Transport != "websocket" || r.Ops == 0 || r.Errors != 0 {
			t.Errorf("%s: transport %q, %d ops, %d errors (%s)", r.Mode, r.Transport, r.Ops, r.Errors, r.FirstError)
		}
	}
	if !strings.Contains(stdout.String(), " ws ") {
		t.Errorf("the text results do not say ws:\n%s", stdout.String())
	}

	stdout, stderr = lockedBuffer{}, lockedBuffer{}
	args = append([]string{"idle"}, keys...)
	args = append(args, "-n", "20", "-c", "4", "-hold", "300ms", "-user-prefix", "i")
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("idle exited %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "READY 20 errors=0") || !strings.Contains(stdout.String(), "CLOSED 20 dropped-by-server=0") {
		t.Errorf("idle:\n%s\n%s", stdout.String(), stderr.String())
	}

	// The soak's idle readers, pings and checked closes over WebSocket.
	jsonPath := filepath.Join(t.TempDir(), "soak.json")
	args = append([]string{"soak"}, keys...)
	args = append(args, "-idle", "10", "-rate", "20", "-duration", "2s", "-sample", "1s", "-min-rate", "0", "-max-rss-growth", "0", "-json", jsonPath)
	stdout, stderr = lockedBuffer{}, lockedBuffer{}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("soak exited %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	r := readSoakReport(t, jsonPath)
	if !r.OK || r.IdleOpened != 10 || r.Pings.Answered != 10 || r.LoginsOK == 0 {
		b, _ := json.Marshal(r)
		t.Errorf("soak over WebSocket: %s", b)
	}
}
