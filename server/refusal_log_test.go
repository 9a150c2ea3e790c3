package server_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/server/servertest"
)

// 1,000 refused connections make a few log lines, not 1,000: refusals are
// summed up per interval and reason.
func TestRefusalsAreSummedUp(t *testing.T) {
	defer server.SetRefusalLogEvery(200 * time.Millisecond)()
	ts := servertest.Start(t, servertest.Options{Hooks: server.Hooks{
		AllowConnection: func(string) bool { return false },
	}})
	const n = 1000
	for range n {
		conn, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(waitLimit))
		conn.Read(make([]byte, 1)) // until the server closes it
		conn.Close()
	}
	deadline := time.Now().Add(waitLimit)
	total := 0
	var lines []string
	for time.Now().Before(deadline) {
		lines, total = refusalLines(ts.Logs())
		if total == n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if total != n {
		t.Fatalf("the summaries count %d refusals, want %d:\n%s", total, n, strings.Join(lines, "\n"))
	}
	if len(lines) > 5 || strings.Count(ts.Logs(), "remote=") > 5 {
		t.Errorf("%d lines for %d refusals:\n%s", len(lines), n, strings.Join(lines, "\n"))
	}
}

// refusalLines returns the summary lines and the refusals they count.
func refusalLines(logs string) ([]string, int) {
	var lines []string
	total := 0
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "msg=refused") {
			continue
		}
		lines = append(lines, line)
		var count int
		if i := strings.Index(line, " count="); i >= 0 {
			for _, c := range line[i+len(" count="):] {
				if c < '0' || c > '9' {
					break
				}
				count = count*10 + int(c-'0')
			}
		}
		total += count
	}
	return lines, total
}

// A login costs at most two short lines at info: "session start" and
// "session end", with the details (host, user, SASL) at debug.
func TestLoginLogLines(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	c := rawLogin(t, ts, "alice", "localhost", "phone")
	c.conn.Write([]byte("</stream:stream>"))
	readAll(t, c.conn)
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(ts.Logs(), "session end") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var info []string
	for _, line := range strings.Split(ts.Logs(), "\n") {
		if strings.Contains(line, "level=INFO") && strings.Contains(line, "remote=") {
			info = append(info, line)
		}
	}
	if len(info) != 2 {
		t.Fatalf("%d info lines for one login, want 2 (session start, session end):\n%s", len(info), strings.Join(info, "\n"))
	}
	// The time stamp (~30 bytes), level, message, remote, JID and a short
	// reason: 150 bytes leave room for a long JID.
	for _, line := range info {
		if len(line) > 150 {
			t.Errorf("%d bytes: %s", len(line), line)
		}
	}
}
