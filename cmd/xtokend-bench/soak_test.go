package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	const text = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 10042
go_gc_duration_seconds{quantile="0.5"} 0.0001
process_resident_memory_bytes 1.2345678e+08
process_open_fds 10031 1700000000000
process_cpu_seconds_total 12.5
xtokend_sessions{host="localhost"} 10000
`
	st, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := serverStats{RSSKB: 123456780 / 1024, Goroutines: 10042, FDs: 10031, CPU: 12500 * time.Millisecond}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}

	st, err = parseMetrics(strings.NewReader("go_goroutines 7\n"))
	if err != nil || st.Goroutines != 7 || st.RSSKB != -1 || st.FDs != -1 {
		t.Errorf("only goroutines: %+v, %v", st, err)
	}
	if _, err := parseMetrics(strings.NewReader("<html>not metrics</html>\n")); err == nil {
		t.Error("a page without the metrics: no error")
	}
}

// fakeProc writes a /proc-like tree for pid under a temporary root.
func fakeProc(t *testing.T, pid int, status, stat string, fds int) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range fds {
		if err := os.WriteFile(filepath.Join(dir, "fd", fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestProcProbe(t *testing.T) {
	status := "Name:\txtokend\nVmPeak:\t  300000 kB\nVmRSS:\t   61234 kB\nThreads:\t8\n"
	// The command name holds spaces and a parenthesis; utime 150 and stime 50 ticks.
	stat := "4242 (xtokend (x) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 8 0 100 1000 15000\n"
	root := fakeProc(t, 4242, status, stat, 17)
	st, err := procProbe{root: root, pid: 4242}.probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSSKB != 61234 || st.FDs != 17 || st.CPU != 2*time.Second || st.Goroutines != -1 {
		t.Errorf("got %+v", st)
	}

	if _, err := (procProbe{root: root, pid: 4243}).probe(context.Background()); err == nil {
		t.Error("a process that is gone: no error")
	}
	root = fakeProc(t, 7, "Name:\tzombie\nState:\tZ (zombie)\n", "7 (z) Z", 0)
	if _, err := (procProbe{root: root, pid: 7}).probe(context.Background()); err == nil || !strings.Contains(err.Error(), "VmRSS") {
		t.Errorf("no VmRSS line: %v", err)
	}
}

type fakeProbe struct {
	st  serverStats
	err error
}

func (f *fakeProbe) probe(context.Context) (serverStats, error) { return f.st, f.err }

func TestBothProbe(t *testing.T) {
	proc := &fakeProbe{st: serverStats{RSSKB: 100, Goroutines: -1, FDs: 50, CPU: time.Second}}
	metrics := &fakeProbe{st: serverStats{RSSKB: 999, Goroutines: 60, FDs: 999, CPU: time.Hour}}
	st, err := bothProbe{proc, metrics}.probe(context.Background())
	if err != nil || st != (serverStats{RSSKB: 100, Goroutines: 60, FDs: 50, CPU: time.Second}) {
		t.Errorf("got %+v, %v", st, err)
	}
	proc.st, proc.err = unknownStats(), errors.New("gone")
	st, err = bothProbe{proc, metrics}.probe(context.Background())
	if err == nil || st.RSSKB != 999 {
		t.Errorf("proc failing: %+v, %v", st, err)
	}
}

func TestSampler(t *testing.T) {
	p := &fakeProbe{st: serverStats{RSSKB: 1000, Goroutines: 20, FDs: 30, CPU: 0}}
	load := &loginLoad{}
	pool := &idlePool{sessions: make([]*idleSession, 5)}
	s := &sampler{probe: p, load: load, pool: pool, warmup: time.Hour, start: time.Now()}
	first := s.take(context.Background(), "")
	if first.Phase != "warm-up" || first.IdleOpen != 5 || first.RSSKB != 1000 || first.ServerCPU != -1 || first.LoginsOK != 0 {
		t.Errorf("first sample %+v", first)
	}
	load.ok.Add(40)
	load.failed.Add(2)
	pool.lostN.Add(1)
	p.st.CPU = 10 * time.Second // far more than the wall time: CPU% is per core and may exceed 100
	s.warmup = 0
	time.Sleep(20 * time.Millisecond)
	second := s.take(context.Background(), "")
	if second.Phase != "load" || second.LoginsOK != 40 || second.LoginsFailed != 2 || second.IdleOpen != 4 {
		t.Errorf("second sample %+v", second)
	}
	if second.OKPerSecond <= 0 || second.ServerCPU <= 100 {
		t.Errorf("rates of the second sample: %+v", second)
	}
	load.ok.Add(3)
	third := s.take(context.Background(), "end")
	if third.Phase != "end" || third.LoginsOK != 3 || third.LoginsFailed != 0 {
		t.Errorf("third sample %+v", third)
	}
	p.err = errors.New("soak: process 1: gone")
	p.st = unknownStats()
	if got := s.take(context.Background(), ""); got.ProbeError == "" || got.RSSKB != -1 || got.ServerCPU != -1 {
		t.Errorf("failed probe %+v", got)
	}
}

func TestSlope(t *testing.T) {
	for _, c := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{0, 1, 2, 3}, []float64{10, 12, 14, 16}, 2},
		{[]float64{0, 1, 2, 3}, []float64{5, 5, 5, 5}, 0},
		{[]float64{0, 1, 2, 3}, []float64{1, 3, 2, 4}, 0.8},
		{[]float64{1}, []float64{1}, 0},
		{[]float64{2, 2}, []float64{1, 5}, 0},
	} {
		if got := slope(c.x, c.y); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("slope(%v, %v) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	clean := func() *soakReport {
		r := &soakReport{Idle: 100, IdleOpened: 100, Rate: 100, LoadSeconds: 100, LoginsOK: 10000,
			Pings: pingResult{Sent: 100, Answered: 100}, MaxGrowthPct: 10, MinRateFraction: 0.95}
		// Warm-up at 50 MB, then 60 MB growing 1,000 KB a minute (samples every 30 s).
		r.Samples = append(r.Samples, soakSample{T: 0, Phase: "warm-up", RSSKB: 50000, Goroutines: 90, FDs: 95, ServerCPU: -1, ToolCPU: -1})
		for i := 1; i <= 4; i++ {
			r.Samples = append(r.Samples, soakSample{T: float64(30 * i), Phase: "load", RSSKB: 60000 + int64(500*(i-1)),
				Goroutines: 110 + int64(i), FDs: 105, ServerCPU: 40, ToolCPU: 20})
		}
		r.Samples = append(r.Samples, soakSample{T: 125, Phase: "end", RSSKB: 1, Goroutines: 1, FDs: 1, ServerCPU: 99, ToolCPU: 99})
		return r
	}
	r := clean()
	r.summarize()
	if !r.OK || len(r.Problems) != 0 {
		t.Fatalf("a clean run judged %v: %v", r.OK, r.Problems)
	}
	if r.RSSWarmKB != 60000 || r.RSSEndKB != 61500 || r.RSSGrowthPct != 2.5 || r.RSSSlopeKBMin != 1000 {
		t.Errorf("memory: warm %d end %d growth %v slope %v", r.RSSWarmKB, r.RSSEndKB, r.RSSGrowthPct, r.RSSSlopeKBMin)
	}
	if r.GoroutinesWarm != 111 || r.GoroutinesEnd != 114 || r.FDsWarm != 105 || r.FDsEnd != 105 {
		t.Errorf("goroutines %d → %d, fds %d → %d", r.GoroutinesWarm, r.GoroutinesEnd, r.FDsWarm, r.FDsEnd)
	}
	if r.OKRate != 100 || r.ServerCPUMean != 40 || r.ToolCPUMean != 20 {
		t.Errorf("rate %v, cpu %v %v", r.OKRate, r.ServerCPUMean, r.ToolCPUMean)
	}
	var text bytes.Buffer
	r.writeText(&text)
	if !strings.Contains(text.String(), "verdict: OK") || !strings.Contains(text.String(), "| 30 | load | 58.6 | 111 | 105 | 40% | 20% |") {
		t.Errorf("text report:\n%s", text.String())
	}

	for name, c := range map[string]struct {
		change func(*soakReport)
		want   string
	}{
		"lost": {func(r *soakReport) {
			r.Lost = 3
			r.LostReasons = map[string]reasonCount{"connection closed": {Count: 2}, "stream error conflict": {Count: 1}}
		}, "3 idle sessions lost (connection closed: 2, stream error conflict: 1)"},
		"failed logins": {func(r *soakReport) {
			r.LoginsFailed = 5
			r.Failures = map[string]reasonCount{"sasl: sasl failure temporary-auth-failure": {Count: 5}}
		}, "5 logins failed (sasl: sasl failure temporary-auth-failure: 5)"},
		"unanswered": {func(r *soakReport) {
			r.Pings = pingResult{Sent: 100, Answered: 98, Unanswered: map[string]reasonCount{"no answer in 10s": {Count: 2}}}
		}, "2 of 100 pings unanswered (no answer in 10s: 2)"},
		"not opened": {func(r *soakReport) {
			r.IdleOpened = 90
			r.IdleFailed = map[string]reasonCount{"dial: timeout": {Count: 10}}
		}, "10 of 100 idle sessions did not open (dial: timeout: 10)"},
		"slow":   {func(r *soakReport) { r.LoginsOK, r.Behind = 9000, 1000 }, "90 logins/s succeeded, below 95% of the 100 asked for (1000 behind schedule)"},
		"memory": {func(r *soakReport) { r.Samples[4].RSSKB = 70000 }, "server memory grew 16.7% after warm-up (limit 10%)"},
	} {
		r := clean()
		c.change(r)
		r.summarize()
		if r.OK || !strings.Contains(strings.Join(r.Problems, "; "), c.want) {
			t.Errorf("%s: OK %v, problems %q, want %q", name, r.OK, r.Problems, c.want)
		}
	}

	// Memory is not judged with -max-rss-growth 0, nor when the server could not be probed.
	r = clean()
	r.MaxGrowthPct = 0
	r.Samples[4].RSSKB = 90000
	if r.summarize(); !r.OK {
		t.Errorf("growth judged with no limit: %v", r.Problems)
	}
	r = clean()
	for i := range r.Samples {
		r.Samples[i].RSSKB = -1
	}
	if r.summarize(); !r.OK || r.RSSWarmKB != -1 {
		t.Errorf("no RSS: OK %v warm %d %v", r.OK, r.RSSWarmKB, r.Problems)
	}
}

func TestFailureReason(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{fail("dial", opErr(syscall.ECONNREFUSED)), "dial: connection refused"},
		{fail("dial", opErr(syscall.EADDRNOTAVAIL)), "dial: no free local port"},
		{fail("stream", opErr(syscall.ECONNRESET)), "stream: connection reset"},
		{fail("bind", os.ErrDeadlineExceeded), "bind: timeout"},
		{fail("sasl", io.EOF), "sasl: connection closed"},
		{fail("sasl", fmt.Errorf("failure: <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><temporary-auth-failure/><text>x</text></failure>")),
			"sasl: sasl failure temporary-auth-failure"},
		{fail("stream after sasl", fmt.Errorf("expected features, got <stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")),
			"stream after sasl: stream error policy-violation"},
		{fail("bind", fmt.Errorf("server answered <iq type='error' id='bind1'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")),
			"bind: stanza error conflict"},
		{fail("sasl", fmt.Errorf("failure: <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")), "sasl: sasl failure"},
		{errors.New(strings.Repeat("x", 100)), strings.Repeat("x", 60) + "…"},
	} {
		if got := failureReason(c.err); got != c.want {
			t.Errorf("failureReason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestReasonCounter(t *testing.T) {
	var r reasonCounter
	r.add("a", errors.New("first"))
	r.add("a", errors.New("second"))
	r.add("b", nil)
	got := r.snapshot()
	if got["a"] != (reasonCount{Count: 2, Example: "first"}) || got["b"] != (reasonCount{Count: 1}) || len(got) != 2 {
		t.Errorf("got %+v", got)
	}
	if s := reasonList(got); s != "a: 2, b: 1" {
		t.Errorf("reasonList = %q", s)
	}
}

func TestSourceAddrs(t *testing.T) {
	got, err := sourceAddrs("127.0.0.1:5222", 3)
	if err != nil || len(got) != 3 || !got[0].Equal(net.IPv4(127, 0, 0, 1)) || !got[2].Equal(net.IPv4(127, 0, 0, 3)) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, c := range []struct {
		addr string
		n    int
	}{{"[::1]:5222", 4}, {"localhost:5222", 4}, {"127.0.0.1:5222", 1}} {
		if got, err := sourceAddrs(c.addr, c.n); err != nil || got != nil {
			t.Errorf("sourceAddrs(%q, %d) = %v, %v; want none", c.addr, c.n, got, err)
		}
	}
}

func TestSoakUsage(t *testing.T) {
	keys := []string{"-secret-file", "testdata/none", "-seed-file", "testdata/none"}
	for _, args := range [][]string{
		{"-rate", "0"},
		{"-idle", "-1"},
		{"-duration", "0s"},
		{"-sources", "0"},
		{"-addr", "192.0.2.1:5222"},
		{"-metrics", "ftp://127.0.0.1/metrics"},
		{"-mech", "SCRAM-SHA-1"},
		{"stray"},
		{"-idle", "1000000"},
	} {
		var stderr bytes.Buffer
		a := append([]string{"soak", "-mech", "PLAIN"}, args...)
		if code := run(a, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2; %s", args, code, stderr.String())
		} else if stderr.Len() == 0 {
			t.Errorf("%v: exit 2 without a word", args)
		}
	}
	if code := run(append([]string{"soak"}, keys...), io.Discard, io.Discard); code != 1 {
		t.Errorf("missing key files: exit %d, want 1", code)
	}
	if code := run([]string{"soak", "-h"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}
