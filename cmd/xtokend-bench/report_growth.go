package main

import (
	"fmt"
	"slices"
	"strings"
)

// The growth rows: bench/run.sh's idle phase, once a server holds each count of idle
// sessions, runs a short point of logins and one of messages beside them (modes held-logins
// and held-messages, sessions = the idle sessions held), so the report can say how memory per
// session and CPU per operation change as a server fills up.

// heldCounts lists the idle-session counts growth rows were measured at.
func heldCounts(rs []result) []int {
	var out []int
	for i := range rs {
		if r := &rs[i]; strings.HasPrefix(r.Mode, "held-") && !slices.Contains(out, r.Sessions) {
			out = append(out, r.Sessions)
		}
	}
	slices.Sort(out)
	return out
}

// heldRuns is the most runs any growth point had.
func heldRuns(rs []result) int {
	type point struct {
		server, mode string
		held         int
	}
	count := map[point]int{}
	most := 0
	for _, r := range rs {
		if strings.HasPrefix(r.Mode, "held-") {
			k := point{r.Server, r.Mode, r.Sessions}
			count[k]++
			most = max(most, count[k])
		}
	}
	return most
}

// findHeld is find for the growth rows of mode at held sessions (at whichever concurrency or
// pairs they ran).
func findHeld(rs []result, server, mode string, held int) *result {
	var at []result
	for _, r := range rs {
		if r.Mode == mode && r.Sessions == held && r.Server == server && variantOf(&r) == (variant{}) {
			at = append(at, r)
		}
	}
	if len(at) == 0 {
		return nil
	}
	return find(at, server, mode, variantOf(&at[0]), at[0].Concurrency)
}

func writeGrowth(b *strings.Builder, rs []result, subject string, peers []string) {
	counts := heldCounts(rs)
	if len(counts) == 0 {
		return
	}
	login, msg := firstLevel(rs, "held-logins"), firstLevel(rs, "held-messages")
	note := ""
	if n := heldRuns(rs); n > 1 {
		note = fmt.Sprintf(" (means of %d runs)", n)
	}
	fmt.Fprintf(b, "\n### Growth: memory and CPU per operation with idle sessions held, plaintext%s\n\n", note)
	fmt.Fprintf(b, "With N idle sessions held (the idle phase's), a point of logins at c=%d and one of messages at %d pairs beside them. "+
		"Their connections come from 127.0.0.2 (`-from`), as the held sessions take most of 127.0.0.1's ephemeral ports "+
		"(from the same address the kernel's port search cost the load tool 1.6 ms per login at 15,000 held).\n\n", login, msg)
	b.WriteString("| server | sessions held | KB/session | logins/s | login p50 / p99 ms | CPU µs/login | messages/s | message p50 / p99 ms | CPU µs/message |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	servers := append([]string{subject}, peers...)
	for _, s := range servers {
		for _, n := range counts {
			idle := find(rs, s, "idle", variant{}, n)
			l, m := findHeld(rs, s, "held-logins", n), findHeld(rs, s, "held-messages", n)
			if idle == nil && l == nil && m == nil {
				continue
			}
			fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", s, n, cell(idle, perSessionCell),
				cell(l, rateCell), cell(l, latCell), cell(l, cpuCell), cell(m, rateCell), cell(m, latCell), cell(m, cpuCell))
		}
	}
	if len(counts) < 2 {
		return
	}
	lo, hi := counts[0], counts[len(counts)-1]
	fmt.Fprintf(b, "\nFrom %d to %d sessions held (the larger over the smaller):\n\n", lo, hi)
	fmt.Fprintf(b, "| server | KB/session | CPU µs/login | login p99 | CPU µs/message | message p99 |\n|---|---:|---:|---:|---:|---:|\n")
	for _, s := range servers {
		grow := func(mode string, f func(*result) float64) string {
			var a, z *result
			if mode == "idle" {
				a, z = find(rs, s, mode, variant{}, lo), find(rs, s, mode, variant{}, hi)
			} else {
				a, z = findHeld(rs, s, mode, lo), findHeld(rs, s, mode, hi)
			}
			if a == nil || z == nil {
				return "–"
			}
			return fmt.Sprintf("%s (%.1f → %.1f)", ratio(f(z), f(a)), f(a), f(z))
		}
		cpu := func(r *result) float64 { return r.ServerCPUus }
		p99 := func(r *result) float64 { return r.P99ms }
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", s, grow("idle", perSession),
			grow("held-logins", cpu), grow("held-logins", p99), grow("held-messages", cpu), grow("held-messages", p99))
	}
}

// firstLevel is the concurrency (or pairs) the rows of mode ran at.
func firstLevel(rs []result, mode string) int {
	for i := range rs {
		if rs[i].Mode == mode {
			return rs[i].Concurrency
		}
	}
	return 0
}

// plotGrowth draws CPU per login and per message (log scale) and KB per idle session against
// the sessions held.
func plotGrowth(rs []result) string {
	counts := heldCounts(rs)
	panels := []panel{
		{title: fmt.Sprintf("Server CPU per login (c=%d) against idle sessions held", firstLevel(rs, "held-logins")), xLabel: "idle sessions held", yLabel: "CPU µs per login", logY: true},
		{title: fmt.Sprintf("Server CPU per message (%d pairs) against idle sessions held", firstLevel(rs, "held-messages")), xLabel: "idle sessions held", yLabel: "CPU µs per message", logY: true},
		{title: "Memory per idle session against idle sessions held, plaintext", xLabel: "idle sessions held", yLabel: "KB per session"},
	}
	for _, s := range serversOf(rs, "held-logins") {
		for _, n := range counts {
			if r := findHeld(rs, s, "held-logins", n); r != nil && r.ServerCPUus > 0 {
				panels[0].add(s, s, float64(n), r.ServerCPUus)
			}
			if r := findHeld(rs, s, "held-messages", n); r != nil && r.ServerCPUus > 0 {
				panels[1].add(s, s, float64(n), r.ServerCPUus)
			}
			if r := find(rs, s, "idle", variant{}, n); perSession(r) > 0 {
				panels[2].add(s, s, float64(n), perSession(r))
			}
		}
	}
	return plotFigure("Growth with idle sessions held (loopback, 2 shared cores)", panels)
}
