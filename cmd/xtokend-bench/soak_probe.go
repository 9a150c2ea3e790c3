package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A soak samples the server it loads from outside: its resident memory, goroutines and open
// descriptors, read from /proc (-pid) or from its Prometheus /metrics (-metrics), or both.

// serverStats is one reading; -1 means unknown (no source gives it).
type serverStats struct {
	RSSKB      int64 `json:"rss_kb"`
	Goroutines int64 `json:"goroutines"`
	FDs        int64 `json:"fds"`
	CPU        time.Duration
}

func unknownStats() serverStats { return serverStats{RSSKB: -1, Goroutines: -1, FDs: -1, CPU: -1} }

// prober reads the server's figures.
type prober interface {
	probe(ctx context.Context) (serverStats, error)
}

// procProbe reads a process's figures from a /proc-like tree: root/PID/status (VmRSS),
// root/PID/fd (one entry per descriptor) and root/PID/stat (CPU time).
type procProbe struct {
	root string
	pid  int
}

func (p procProbe) probe(context.Context) (serverStats, error) {
	st := unknownStats()
	dir := filepath.Join(p.root, strconv.Itoa(p.pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return st, fmt.Errorf("soak: process %d: %w", p.pid, err)
	}
	if st.RSSKB, err = parseVmRSS(status); err != nil {
		return st, fmt.Errorf("soak: process %d: %w", p.pid, err)
	}
	if f, err := os.Open(filepath.Join(dir, "fd")); err == nil {
		names, _ := f.Readdirnames(-1)
		f.Close()
		st.FDs = int64(len(names))
	}
	if stat, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil {
		if cpu, ok := parseStatCPU(stat); ok {
			st.CPU = cpu
		}
	}
	return st, nil
}

// parseVmRSS returns the VmRSS line of a /proc/PID/status file, in KB.
func parseVmRSS(status []byte) (int64, error) {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		v, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || n < 0 {
			break
		}
		return n, nil
	}
	return -1, fmt.Errorf("no VmRSS line")
}

// parseStatCPU returns utime+stime of a /proc/PID/stat line (clock ticks of 10 ms).
func parseStatCPU(stat []byte) (time.Duration, bool) {
	i := bytes.LastIndexByte(stat, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

// metricsProbe scrapes a Prometheus text endpoint for the Go client's standard metrics.
type metricsProbe struct {
	url    string
	client *http.Client
}

func (m metricsProbe) probe(ctx context.Context) (serverStats, error) {
	st := unknownStats()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return st, fmt.Errorf("soak: metrics: %w", err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return st, fmt.Errorf("soak: metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("soak: metrics: %s answered %s", m.url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads go_goroutines, process_resident_memory_bytes, process_open_fds and
// process_cpu_seconds_total from Prometheus' text format.
func parseMetrics(r io.Reader) (serverStats, error) {
	st := unknownStats()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	found := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		value, _, _ = strings.Cut(strings.TrimSpace(value), " ") // drop a timestamp
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			st.Goroutines = int64(v)
		case "process_resident_memory_bytes":
			st.RSSKB = int64(v) / 1024
		case "process_open_fds":
			st.FDs = int64(v)
		case "process_cpu_seconds_total":
			st.CPU = time.Duration(v * float64(time.Second))
		default:
			continue
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("soak: metrics: %w", err)
	}
	if found == 0 {
		return st, fmt.Errorf("soak: metrics: none of go_goroutines, process_resident_memory_bytes, process_open_fds")
	}
	return st, nil
}

// bothProbe reads every source and takes each figure from the first that has it: /proc before
// /metrics, since /proc costs the server nothing.
type bothProbe []prober

func (b bothProbe) probe(ctx context.Context) (serverStats, error) {
	out := unknownStats()
	var firstErr error
	for _, p := range b {
		st, err := p.probe(ctx)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if out.RSSKB < 0 {
			out.RSSKB = st.RSSKB
		}
		if out.Goroutines < 0 {
			out.Goroutines = st.Goroutines
		}
		if out.FDs < 0 {
			out.FDs = st.FDs
		}
		if out.CPU < 0 {
			out.CPU = st.CPU
		}
	}
	return out, firstErr
}
