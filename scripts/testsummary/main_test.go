package main

import (
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
