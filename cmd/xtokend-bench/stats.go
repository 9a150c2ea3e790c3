package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// result is one measurement, written as one JSON line; the report command reads them back.
type result struct {
	Server      string  `json:"server"`
	Mode        string  `json:"mode"`                // logins, messages, idle
	Transport   string  `json:"transport,omitempty"` // "websocket" (RFC 7395); "tcp" or empty (older lines): TCP
	TLS         bool    `json:"tls"`
	Pipelined   bool    `json:"pipelined,omitempty"`   // logins: each stream's first element sent with its header
	Concurrency int     `json:"concurrency,omitempty"` // logins: workers; messages: pairs; idle: sessions tried
	Window      int     `json:"window,omitempty"`      // messages in flight per pair
	Seconds     float64 `json:"seconds,omitempty"`
	Ops         int     `json:"ops"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	Rate        float64 `json:"rate,omitempty"` // ops per second
	P50ms       float64 `json:"p50_ms,omitempty"`
	P90ms       float64 `json:"p90_ms,omitempty"`
	P99ms       float64 `json:"p99_ms,omitempty"`
	MaxMs       float64 `json:"max_ms,omitempty"`

	ToolCPUus   float64 `json:"tool_cpu_us_per_op,omitempty"`   // this tool's CPU per op
	ServerCPUus float64 `json:"server_cpu_us_per_op,omitempty"` // the server's CPU per op (-server-pid)

	Sessions  int   `json:"sessions,omitempty"` // idle
	RSSKB     int64 `json:"rss_kb,omitempty"`   // the server's VmRSS after the run
	BaseRSSKB int64 `json:"base_rss_kb,omitempty"`

	Runs int `json:"-"` // the report: how many runs a point's figures are the means of
}

func (r *result) setLatencies(samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	pick := func(q float64) float64 {
		i := int(q * float64(len(samples)-1))
		return float64(samples[i]) / float64(time.Millisecond)
	}
	r.P50ms = round3(pick(0.50))
	r.P90ms = round3(pick(0.90))
	r.P99ms = round3(pick(0.99))
	r.MaxMs = round3(pick(1))
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

func (r *result) print(human, jsonOut io.Writer) {
	tlsName := "plain"
	switch {
	case r.Transport == "websocket" && r.TLS:
		tlsName = "wss"
	case r.Transport == "websocket":
		tlsName = "ws"
	case r.TLS:
		tlsName = "tls"
	}
	switch r.Mode {
	case "idle":
		fmt.Fprintf(human, "%-8s idle     %-5s sessions=%d errors=%d\n", r.Server, tlsName, r.Sessions, r.Errors)
	default:
		fmt.Fprintf(human, "%-8s %-8s %-5s c=%-4d %9.0f/s  p50=%.2fms p90=%.2fms p99=%.2fms max=%.1fms  ops=%d errors=%d  cpu/op: tool %.0fus server %.0fus\n",
			r.Server, r.Mode, tlsName, r.Concurrency, r.Rate, r.P50ms, r.P90ms, r.P99ms, r.MaxMs, r.Ops, r.Errors, r.ToolCPUus, r.ServerCPUus)
	}
	if r.FirstError != "" {
		fmt.Fprintf(human, "         first error: %s\n", r.FirstError)
	}
	if jsonOut != nil {
		b, _ := json.Marshal(r)
		jsonOut.Write(append(b, '\n'))
	}
}

// cpuMeter measures this process's CPU time and, when pid > 0, another process's.
type cpuMeter struct {
	pid         int
	self, other time.Duration // at the start, then (after end) the time used
}

// end fixes the CPU time used since start.
func (m *cpuMeter) end() {
	m.self = selfCPU() - m.self
	m.other = procCPU(m.pid) - m.other
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid}
	m.self = selfCPU()
	m.other = procCPU(pid)
	return m
}

// perOp (after end) returns microseconds of CPU per op for this process and the other one.
func (m *cpuMeter) perOp(ops int) (self, other float64) {
	if ops == 0 {
		return 0, 0
	}
	self = float64(m.self) / float64(time.Microsecond) / float64(ops)
	if m.pid > 0 {
		other = float64(m.other) / float64(time.Microsecond) / float64(ops)
	}
	return round3(self), round3(other)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU reads utime+stime of pid from /proc (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
	st, _ := strconv.ParseInt(string(f[12]), 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procRSS reads VmRSS of pid in KB.
func procRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return n
			}
		}
	}
	return 0
}
