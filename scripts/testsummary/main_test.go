package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"x/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"x/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"pass","Package":"x/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"x/a","Test":"TestClient","Output":"    client_test.go:120: slixmpp not installed: apt-get install python3-slixmpp\n"}`,
		`{"Action":"output","Package":"x/a","Test":"TestClient","Output":"--- SKIP: TestClient (0.00s)\n"}`,
		`{"Action":"skip","Package":"x/a","Test":"TestClient"}`,
		`{"Action":"output","Package":"x/a","Output":"ok  \tx/a\t0.1s\n"}`,
		`{"Action":"pass","Package":"x/a"}`,
		`{"Action":"output","Package":"x/b","Test":"TestBad","Output":"    b_test.go:9: want 2, got 3\n"}`,
		`{"Action":"fail","Package":"x/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"x/b","Output":"FAIL\tx/b\t0.2s\n"}`,
		`{"Action":"fail","Package":"x/b"}`,
		`# x/c`,
	}, "\n")
	var out strings.Builder
	code := run(strings.NewReader(in), &out, []string{"install-test-deps: warning: apt-get install sendxmpp failed"})
	got := out.String()
	if code != 1 {
		t.Errorf("exit code %d, want 1 (a test failed)", code)
	}
	for _, want := range []string{
		"ok  \tx/a\t0.1s\n",
		"FAIL\tx/b\t0.2s\n",
		"want 2, got 3",
		"  x/a TestClient: slixmpp not installed: apt-get install python3-slixmpp\n",
		"  x/b TestBad\n",
		"# x/c\n",
		"  install-test-deps: warning: apt-get install sendxmpp failed\n",
		"\ntests: 1 passed, 1 failed, 1 skipped\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "tests: 1 passed, 1 failed, 1 skipped\n") {
		t.Errorf("the count is not the last line:\n%s", got)
	}
}

func TestRunAllPass(t *testing.T) {
	in := `{"Action":"pass","Package":"x/a","Test":"TestOK"}` + "\n" + `{"Action":"pass","Package":"x/a"}`
	var out strings.Builder
	if code := run(strings.NewReader(in), &out, []string{"install-test-deps: warning: apt-get install sendxmpp failed"}); code != 0 {
		t.Errorf("exit code %d, want 0:\n%s", code, out.String())
	}
	if strings.Contains(out.String(), "skipped (") {
		t.Errorf("a skipped list with nothing skipped:\n%s", out.String())
	}
}

// TestFailureLines: the closing list names why each test failed, from a
// data race's report and the test's own errors, without the log it printed.
func TestFailureLines(t *testing.T) {
	out := func(s string) string {
		return `{"Action":"output","Package":"github.com/xtokend/xtokend/server","Test":"TestRevoke","Output":` + quote(s) + `}`
	}
	in := strings.Join([]string{
		out("==================\n"),
		out("WARNING: DATA RACE\n"),
		out("Read at 0x00c0001 by goroutine 9:\n"),
		out("  runtime.something()\n"),
		out("      /usr/local/go/src/runtime/x.go:4 +0x24\n"),
		out("  github.com/xtokend/xtokend/server.(*parkState).closing()\n"),
		out("      /src/server/parker_linux.go:180 +0x24\n"),
		out("  github.com/xtokend/xtokend/server.(*tcpTransport).Close()\n"),
		out("      /src/server/transport_tcp.go:199 +0x24\n"),
		out("\n"),
		out("Previous write at 0x00c0001 by goroutine 8:\n"),
		out("  github.com/xtokend/xtokend/server.(*parkState).learnFD()\n"),
		out("      /src/server/parker_linux.go:140 +0x55\n"),
		out("\n"),
		out("Goroutine 9 (running) created at:\n"),
		out("  github.com/xtokend/xtokend/server.newPool()\n"),
		out("      /src/server/pool.go:10 +0x55\n"),
		out("==================\n"),
		out("    revoke_test.go:201: POST /v1/revocations: 500; want 200\n"),
		out("    testing.go:1712: race detected during execution of test\n"),
		out("    servertest.go:159: server log:\n        time=2026-12-03T15:55:00.002Z level=DEBUG msg=login\n        revoke_test.go:1: not a test line\n"),
		out("--- FAIL: TestRevoke (3.97s)\n"),
		`{"Action":"fail","Package":"github.com/xtokend/xtokend/server","Test":"TestRevoke"}`,
	}, "\n")
	var b strings.Builder
	run(strings.NewReader(in), &b, nil)
	_, list, ok := strings.Cut(b.String(), "\nfailed (1):\n")
	if !ok {
		t.Fatalf("no failed list:\n%s", b.String())
	}
	want := `  server TestRevoke
    WARNING: DATA RACE
    Read at 0x00c0001 by goroutine 9:
    github.com/xtokend/xtokend/server.(*parkState).closing() /src/server/parker_linux.go:180
    Previous write at 0x00c0001 by goroutine 8:
    github.com/xtokend/xtokend/server.(*parkState).learnFD() /src/server/parker_linux.go:140
    revoke_test.go:201: POST /v1/revocations: 500; want 200
    testing.go:1712: race detected during execution of test

tests: 0 passed, 1 failed, 0 skipped
`
	if list != want {
		t.Errorf("failed list:\n%s\nwant:\n%s", list, want)
	}
}

// TestFailureLinesBounded: a test that fails in a loop does not fill the
// run's last lines.
func TestFailureLinesBounded(t *testing.T) {
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("    a_test.go:%d: %s\n", i, strings.Repeat("x", 1000)))
	}
	got := failureLines(lines)
	if len(got) != maxWhyLines+1 || got[maxWhyLines] != "(more in the output above)" {
		t.Fatalf("%d lines, last %q", len(got), got[len(got)-1])
	}
	if len(got[0]) > maxWhyChars+len("...") {
		t.Errorf("a line of %d characters", len(got[0]))
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
