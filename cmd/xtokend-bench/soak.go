package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// runSoak holds -idle bound sessions while a paced login load runs for -duration, samples the
// server's memory, goroutines and descriptors every -sample, pings every idle session at the
// end, and reports what was lost. It returns errSoakFailed (exit status 3) when a session was
// lost, a login failed, a ping went unanswered, the rate fell short or memory grew.
func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	fs.IntVar(&c.serverPID, "pid", 0, "the server's `pid`: RSS from /proc/PID/status, descriptors from /proc/PID/fd (same as -server-pid)")
	idle := fs.Int("idle", 1000, "idle sessions to hold (users <user-prefix>idle0..N-1)")
	rate := fs.Float64("rate", 1000, "logins per second, paced")
	duration := fs.Duration("duration", time.Minute, "how long the login load runs")
	sample := fs.Duration("sample", 10*time.Second, "time between samples")
	warmup := fs.Duration("warmup", 0, "samples before this are warm-up, not judged (0: a fifth of -duration, at most 1m)")
	metricsURL := fs.String("metrics", "", "the server's Prometheus `URL` (go_goroutines, process_resident_memory_bytes, process_open_fds)")
	workers := fs.Int("c", 0, "logins in flight at most (0: rate/5, at least 16)")
	openWorkers := fs.Int("open-c", 32, "logins in parallel while opening the idle sessions")
	users := fs.Int("users", 1000, "distinct usernames the login load cycles through")
	presence := fs.Bool("presence", false, "idle sessions send initial presence")
	pingWait := fs.Duration("ping-timeout", 10*time.Second, "how long the final pings may take")
	sources := fs.Int("sources", 4, "spread connections over this many source addresses 127.0.0.1..N (IPv4 loopback targets; 1: the system's choice)")
	maxGrowth := fs.Float64("max-rss-growth", 20, "fail when the server's RSS grows more than this many percent after warm-up (0: do not judge)")
	minRate := fs.Float64("min-rate", 0.95, "fail when fewer than this fraction of -rate logins/s succeed (0: do not judge)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("soak: unexpected argument %q", fs.Arg(0)))
	}
	if *idle < 0 || *rate <= 0 || *duration <= 0 || *sample <= 0 || *warmup < 0 || *openWorkers <= 0 || *users <= 0 || *pingWait <= 0 || *sources < 1 || *sources > 254 {
		return usageError("soak: -idle must not be negative; -rate, -duration, -sample, -open-c, -users, -ping-timeout must be positive; -sources 1 to 254")
	}
	if *warmup == 0 {
		*warmup = min(*duration/5, time.Minute)
	}
	if *workers == 0 {
		*workers = max(16, int(*rate/5))
	}
	t, err := c.target()
	if err != nil {
		return err
	}
	if t.sources, err = sourceAddrs(c.addr, *sources); err != nil {
		return err
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	if need := uint64(*idle + *workers + *openWorkers + 64); need > limit {
		return usageError(fmt.Sprintf("soak: %d idle sessions and %d logins in flight need about %d descriptors; the open-file limit is %d (raise the hard limit: ulimit -Hn)", *idle, *workers, need, limit))
	}
	probe, err := newProber(c.serverPID, *metricsURL)
	if err != nil {
		return err
	}
	if probe != nil {
		if _, err := probe.probe(ctx); err != nil {
			return err
		}
	}

	r := &soakReport{Server: c.server, Addr: c.addr, TLS: t.useTLS, Idle: *idle, Rate: *rate, Duration: duration.Seconds(),
		Warmup: warmup.Seconds(), Sample: sample.Seconds(), Started: time.Now().UTC().Format(time.RFC3339),
		MaxGrowthPct: *maxGrowth, MinRateFraction: *minRate}

	fmt.Fprintf(stderr, "soak: opening %d idle sessions\n", *idle)
	pool := &idlePool{t: t}
	opening := time.Now()
	pool.open(ctx, *idle, *openWorkers, c.userPrefix+"idle", *presence)
	r.OpenSeconds = round3(time.Since(opening).Seconds())
	r.IdleOpened = len(pool.sessions)
	r.IdleFailed = pool.openFailed.snapshot()
	defer pool.close()
	if *idle > 0 && r.IdleOpened == 0 {
		return fmt.Errorf("soak: no idle session opened (%s)", reasonList(r.IdleFailed))
	}
	fmt.Fprintf(stderr, "soak: %d idle sessions open in %.1f s; logins at %.0f/s for %s\n", r.IdleOpened, r.OpenSeconds, *rate, *duration)

	load := &loginLoad{t: t, prefix: c.userPrefix, users: *users}
	smp := &sampler{probe: probe, pid: c.serverPID, load: load, pool: pool, warmup: *warmup}
	smp.start = time.Now()
	smp.take(ctx, "warm-up")
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		load.run(ctx, *rate, *duration, *workers)
	}()
	tick := time.NewTicker(*sample)
wait:
	for {
		select {
		case <-loadDone:
			break wait
		case <-tick.C:
			s := smp.take(ctx, "")
			fmt.Fprintf(stderr, "soak: t=%.0fs rss=%s MB goroutines=%s fds=%s ok/s=%.0f failed=%d idle open=%d\n",
				s.T, mb(s.RSSKB), num(s.Goroutines), num(s.FDs), s.OKPerSecond, s.LoginsFailed, s.IdleOpen)
		}
	}
	tick.Stop()
	r.LoadSeconds = round3(time.Since(smp.start).Seconds())

	interrupted := ctx.Err() != nil
	if !interrupted {
		fmt.Fprintf(stderr, "soak: pinging %d idle sessions\n", pool.openCount())
		r.Pings = pool.ping(ctx, *pingWait)
		smp.take(ctx, "end")
	}
	r.Samples = smp.samples
	r.Lost = int(pool.lostN.Load())
	r.LostReasons = pool.lost.snapshot()
	r.LoginsOK, r.LoginsFailed, r.Behind = load.ok.Load(), load.failed.Load(), load.behind.Load()
	r.Failures = load.reasons.snapshot()
	lat := load.latencies()
	if len(lat) > 0 {
		at := func(q float64) float64 {
			return round3(float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond))
		}
		r.P50ms, r.P99ms, r.MaxMs = at(0.5), at(0.99), at(1)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	r.summarize()
	if interrupted {
		r.Problems = append(r.Problems, "interrupted before the end")
		r.OK = false
	}

	if c.jsonPath == "-" {
		if err := r.writeJSON(stdout); err != nil {
			return err
		}
	} else {
		r.writeText(stdout)
		if c.jsonPath != "" {
			f, err := os.Create(c.jsonPath)
			if err != nil {
				return err
			}
			werr := r.writeJSON(f)
			if err := f.Close(); werr == nil {
				werr = err
			}
			if werr != nil {
				return werr
			}
		}
	}
	if !r.OK {
		return fmt.Errorf("%w: %s", errSoakFailed, strings.Join(r.Problems, "; "))
	}
	return nil
}

// errSoakFailed says that the soak ran and found something lost or failed (exit status 3).
var errSoakFailed = errors.New("soak: FAILED")

// sourceAddrs returns n IPv4 loopback source addresses for a 127.x.y.z target, none otherwise
// (or when n is 1).
func sourceAddrs(addr string, n int) ([]net.IP, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usageError(fmt.Sprintf("soak: -addr %q: %v", addr, err))
	}
	ip := net.ParseIP(host)
	if n <= 1 || ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return nil, nil
	}
	out := make([]net.IP, n)
	for i := range out {
		out[i] = net.IPv4(127, 0, 0, byte(i+1))
	}
	return out, nil
}

// newProber builds the server's probe from -pid and -metrics; nil when neither is given.
func newProber(pid int, metricsURL string) (prober, error) {
	var ps bothProbe
	if pid > 0 {
		ps = append(ps, procProbe{root: "/proc", pid: pid})
	}
	if metricsURL != "" {
		if !strings.HasPrefix(metricsURL, "http://") && !strings.HasPrefix(metricsURL, "https://") {
			return nil, usageError(fmt.Sprintf("soak: -metrics %q: not an http(s) URL", metricsURL))
		}
		ps = append(ps, metricsProbe{url: metricsURL, client: &http.Client{Timeout: 5 * time.Second}})
	}
	switch len(ps) {
	case 0:
		return nil, nil
	case 1:
		return ps[0], nil
	}
	return ps, nil
}

// sampler takes the rows of the report.
type sampler struct {
	probe  prober
	pid    int
	load   *loginLoad
	pool   *idlePool
	warmup time.Duration
	start  time.Time

	samples                []soakSample
	last                   time.Time
	lastOK, lastFailed     int64
	lastServerCPU, lastCPU time.Duration
}

// take appends a sample; phase "" is warm-up or load by the time since the start.
func (s *sampler) take(ctx context.Context, phase string) soakSample {
	now := time.Now()
	st := unknownStats()
	var probeErr string
	if s.probe != nil {
		var err error
		if st, err = s.probe.probe(ctx); err != nil {
			probeErr = err.Error()
		}
	}
	if phase == "" {
		phase = "load"
		if now.Sub(s.start) < s.warmup {
			phase = "warm-up"
		}
	}
	ok, failed := s.load.ok.Load(), s.load.failed.Load()
	self := selfCPU()
	smp := soakSample{T: round3(now.Sub(s.start).Seconds()), Phase: phase, RSSKB: st.RSSKB, Goroutines: st.Goroutines, FDs: st.FDs,
		ServerCPU: -1, ToolCPU: -1, LoginsOK: ok - s.lastOK, LoginsFailed: failed - s.lastFailed,
		IdleOpen: s.pool.openCount(), ProbeError: probeErr}
	if !s.last.IsZero() {
		dt := now.Sub(s.last)
		smp.OKPerSecond = round3(float64(smp.LoginsOK) / dt.Seconds())
		smp.ToolCPU = round3(100 * float64(self-s.lastCPU) / float64(dt))
		if st.CPU >= 0 && s.lastServerCPU >= 0 {
			smp.ServerCPU = round3(100 * float64(st.CPU-s.lastServerCPU) / float64(dt))
		}
	}
	s.last, s.lastOK, s.lastFailed, s.lastCPU, s.lastServerCPU = now, ok, failed, self, st.CPU
	s.samples = append(s.samples, smp)
	return smp
}
