package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// soakSample is one row of the report: the server's figures at a moment and the load since
// the row before.
type soakSample struct {
	T            float64 `json:"t_s"`   // seconds since the login load started
	Phase        string  `json:"phase"` // warm-up, load, end (after the load and the pings)
	RSSKB        int64   `json:"rss_kb"`
	Goroutines   int64   `json:"goroutines"`
	FDs          int64   `json:"fds"`
	ServerCPU    float64 `json:"server_cpu_pct"` // of one core over the interval; -1 unknown
	ToolCPU      float64 `json:"tool_cpu_pct"`
	LoginsOK     int64   `json:"logins_ok"`
	LoginsFailed int64   `json:"logins_failed"`
	OKPerSecond  float64 `json:"logins_ok_per_s"`
	IdleOpen     int     `json:"idle_open"`
	ProbeError   string  `json:"probe_error,omitempty"`
}

// soakReport is the whole result of a soak; summarize fills in the figures derived from the
// samples and the verdict.
type soakReport struct {
	Server   string  `json:"server"`
	Addr     string  `json:"addr"`
	TLS      bool    `json:"tls"`
	Idle     int     `json:"idle"`
	Rate     float64 `json:"rate"` // the logins/s asked for
	Duration float64 `json:"duration_s"`
	Warmup   float64 `json:"warmup_s"`
	Sample   float64 `json:"sample_s"`
	Started  string  `json:"started"`

	IdleOpened   int                    `json:"idle_opened"`
	IdleFailed   map[string]reasonCount `json:"idle_open_failures,omitempty"`
	OpenSeconds  float64                `json:"idle_open_s"`
	Lost         int                    `json:"lost"`
	LostReasons  map[string]reasonCount `json:"lost_reasons,omitempty"`
	Pings        pingResult             `json:"pings"`
	LoginsOK     int64                  `json:"logins_ok"`
	LoginsFailed int64                  `json:"logins_failed"`
	Behind       int64                  `json:"logins_behind_schedule"`
	Failures     map[string]reasonCount `json:"login_failures,omitempty"`
	LoadSeconds  float64                `json:"load_s"`
	P50ms        float64                `json:"login_p50_ms"`
	P99ms        float64                `json:"login_p99_ms"`
	MaxMs        float64                `json:"login_max_ms"`

	Samples []soakSample `json:"samples"`

	// Derived by summarize.
	OKRate          float64  `json:"logins_ok_per_s"`
	RSSWarmKB       int64    `json:"rss_warm_kb"` // the first sample after warm-up
	RSSEndKB        int64    `json:"rss_end_kb"`  // the last sample under load
	RSSGrowthPct    float64  `json:"rss_growth_pct"`
	RSSSlopeKBMin   float64  `json:"rss_slope_kb_per_min"` // least squares over the samples after warm-up
	GoroutinesWarm  int64    `json:"goroutines_warm"`
	GoroutinesEnd   int64    `json:"goroutines_end"`
	FDsWarm         int64    `json:"fds_warm"`
	FDsEnd          int64    `json:"fds_end"`
	ServerCPUMean   float64  `json:"server_cpu_pct_mean"`
	ToolCPUMean     float64  `json:"tool_cpu_pct_mean"`
	LoadAvg         string   `json:"loadavg,omitempty"`
	MaxGrowthPct    float64  `json:"max_rss_growth_pct"`
	MinRateFraction float64  `json:"min_rate_fraction"`
	Problems        []string `json:"problems"`
	OK              bool     `json:"ok"`
}

// summarize derives the memory figures and the verdict. Memory is judged on the samples under
// load after warm-up (the end sample, after the load, would flatter it).
func (r *soakReport) summarize() {
	if r.LoadSeconds > 0 {
		r.OKRate = round3(float64(r.LoginsOK) / r.LoadSeconds)
	}
	var steady []soakSample
	var cpuS, cpuT []float64
	for _, s := range r.Samples {
		if s.Phase == "load" {
			steady = append(steady, s)
		}
		if s.Phase != "end" {
			if s.ServerCPU >= 0 {
				cpuS = append(cpuS, s.ServerCPU)
			}
			if s.ToolCPU >= 0 {
				cpuT = append(cpuT, s.ToolCPU)
			}
		}
	}
	r.ServerCPUMean, r.ToolCPUMean = round3(mean(cpuS)), round3(mean(cpuT))
	r.RSSWarmKB, r.RSSEndKB, r.GoroutinesWarm, r.GoroutinesEnd, r.FDsWarm, r.FDsEnd = -1, -1, -1, -1, -1, -1
	// The first and last samples that have each figure: a sample whose probe failed (the
	// server gone) has none.
	for _, s := range steady {
		if r.RSSWarmKB < 0 {
			r.RSSWarmKB = s.RSSKB
		}
		if r.GoroutinesWarm < 0 {
			r.GoroutinesWarm = s.Goroutines
		}
		if r.FDsWarm < 0 {
			r.FDsWarm = s.FDs
		}
		if s.RSSKB >= 0 {
			r.RSSEndKB = s.RSSKB
		}
		if s.Goroutines >= 0 {
			r.GoroutinesEnd = s.Goroutines
		}
		if s.FDs >= 0 {
			r.FDsEnd = s.FDs
		}
	}
	r.RSSGrowthPct, r.RSSSlopeKBMin = 0, 0
	if r.RSSWarmKB > 0 && r.RSSEndKB > 0 {
		r.RSSGrowthPct = round3(100 * float64(r.RSSEndKB-r.RSSWarmKB) / float64(r.RSSWarmKB))
	}
	var ts, rss []float64
	for _, s := range steady {
		if s.RSSKB > 0 {
			ts = append(ts, s.T/60)
			rss = append(rss, float64(s.RSSKB))
		}
	}
	r.RSSSlopeKBMin = round3(slope(ts, rss))

	r.Problems = []string{}
	if n := count(r.IdleFailed); n > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d of %d idle sessions did not open (%s)", n, r.Idle, reasonList(r.IdleFailed)))
	}
	if r.Lost > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d idle sessions lost (%s)", r.Lost, reasonList(r.LostReasons)))
	}
	if n := r.Pings.Sent - r.Pings.Answered; n > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d of %d pings unanswered (%s)", n, r.Pings.Sent, reasonList(r.Pings.Unanswered)))
	}
	if r.LoginsFailed > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d logins failed (%s)", r.LoginsFailed, reasonList(r.Failures)))
	}
	if r.Rate > 0 && r.MinRateFraction > 0 && r.OKRate < r.MinRateFraction*r.Rate {
		r.Problems = append(r.Problems, fmt.Sprintf("%.0f logins/s succeeded, below %.0f%% of the %.0f asked for (%d behind schedule)",
			r.OKRate, 100*r.MinRateFraction, r.Rate, r.Behind))
	}
	if r.MaxGrowthPct > 0 && r.RSSWarmKB > 0 && r.RSSGrowthPct > r.MaxGrowthPct {
		r.Problems = append(r.Problems, fmt.Sprintf("server memory grew %.1f%% after warm-up (limit %.0f%%)", r.RSSGrowthPct, r.MaxGrowthPct))
	}
	r.OK = len(r.Problems) == 0
}

// slope is the least-squares slope of y against x (0 with fewer than two distinct x).
func slope(x, y []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	mx, my := mean(x), mean(y)
	var num, den float64
	for i := range x {
		num += (x[i] - mx) * (y[i] - my)
		den += (x[i] - mx) * (x[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func count(m map[string]reasonCount) int {
	n := 0
	for _, v := range m {
		n += v.Count
	}
	return n
}

// reasonList is "reason: n, reason: n", largest first.
func reasonList(m map[string]reasonCount) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a].Count != m[b].Count {
			return m[b].Count - m[a].Count
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k].Count)
	}
	return strings.Join(parts, ", ")
}

// writeText writes the table of samples and the summary.
func (r *soakReport) writeText(w io.Writer) {
	mode := "plaintext"
	if r.TLS {
		mode = "STARTTLS"
	}
	fmt.Fprintf(w, "soak of %s at %s (%s), started %s: %d idle sessions, %.0f logins/s for %s, warm-up %s, a sample every %s\n\n",
		r.Server, r.Addr, mode, r.Started, r.Idle, r.Rate, secs(r.Duration), secs(r.Warmup), secs(r.Sample))
	fmt.Fprintf(w, "| t (s) | phase | RSS MB | goroutines | fds | server CPU | tool CPU | logins ok/s | failed | idle open | note |\n")
	fmt.Fprintf(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, s := range r.Samples {
		fmt.Fprintf(w, "| %.0f | %s | %s | %s | %s | %s | %s | %.0f | %d | %d | %s |\n", s.T, s.Phase, mb(s.RSSKB), num(s.Goroutines), num(s.FDs),
			pct(s.ServerCPU), pct(s.ToolCPU), s.OKPerSecond, s.LoginsFailed, s.IdleOpen, strings.ReplaceAll(s.ProbeError, "|", "/"))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- idle sessions: %d of %d opened in %.1f s; %d lost", r.IdleOpened, r.Idle, r.OpenSeconds, r.Lost)
	if r.Lost > 0 {
		fmt.Fprintf(w, " (%s)", reasonList(r.LostReasons))
	}
	fmt.Fprintf(w, "; final pings answered: %d of %d", r.Pings.Answered, r.Pings.Sent)
	if len(r.Pings.Unanswered) > 0 {
		fmt.Fprintf(w, " (unanswered: %s)", reasonList(r.Pings.Unanswered))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- logins: %d ok, %d failed in %.1f s: %.0f/s ok (asked %.0f/s, %d behind schedule); p50 %.2f ms, p99 %.2f ms, max %.1f ms\n",
		r.LoginsOK, r.LoginsFailed, r.LoadSeconds, r.OKRate, r.Rate, r.Behind, r.P50ms, r.P99ms, r.MaxMs)
	if len(r.Failures) > 0 {
		for _, k := range slices.Sorted(maps.Keys(r.Failures)) {
			fmt.Fprintf(w, "  - %s: %d (e.g. %s)\n", k, r.Failures[k].Count, r.Failures[k].Example)
		}
	}
	fmt.Fprintf(w, "- server memory (RSS): %s MB after warm-up, %s MB at the end of the load (%+.1f%%), slope %+.0f KB/min\n",
		mb(r.RSSWarmKB), mb(r.RSSEndKB), r.RSSGrowthPct, r.RSSSlopeKBMin)
	fmt.Fprintf(w, "- server goroutines %s → %s, descriptors %s → %s (after warm-up → end of the load)\n",
		num(r.GoroutinesWarm), num(r.GoroutinesEnd), num(r.FDsWarm), num(r.FDsEnd))
	fmt.Fprintf(w, "- CPU (mean, of one core): server %s, this tool %s; load average at the end %s\n", pct(r.ServerCPUMean), pct(r.ToolCPUMean), r.LoadAvg)
	if r.OK {
		fmt.Fprintln(w, "- verdict: OK, nothing lost or failed")
	} else {
		fmt.Fprintf(w, "- verdict: FAILED: %s\n", strings.Join(r.Problems, "; "))
	}
}

func (r *soakReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func secs(s float64) string { return (time.Duration(s * float64(time.Second))).String() }

func mb(kb int64) string {
	if kb < 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(kb)/1024)
}

func num(n int64) string {
	if n < 0 {
		return "–"
	}
	return fmt.Sprint(n)
}

func pct(p float64) string {
	if p < 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", p)
}
