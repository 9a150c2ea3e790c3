package main

import (
	"fmt"
	"slices"
	"strings"
)

// sasl2Server names the results of xtokend's logins through SASL2 with Bind2 inline (one
// round trip fewer than RFC 6120's SASL, restart and bind): an extra series beside xtokend's.
const sasl2Server = "xtokend-sasl2"

// writeIssue18Targets checks the results against issue 18's targets: the peaks against
// ejabberd's (and Prosody's), server CPU per plaintext login, memory per idle session at the
// issue's counts, logins with a roster.
func writeIssue18Targets(b *strings.Builder, rs []result, subject string, peers []string) {
	var rows []targetRow
	has := func(p string) bool { return slices.Contains(peers, p) }
	for _, c := range []struct {
		v    variant
		peer string
		want float64
	}{{variant{}, "ejabberd", 3.5}, {variant{}, "prosody", 15}, {variant{tls: true}, "ejabberd", 3}, {variant{tls: true}, "prosody", 8}} {
		if !has(c.peer) {
			continue
		}
		if row, ok := peakRow(rs, subject, c.peer, c.v, c.want); ok {
			rows = append(rows, row)
		}
		// The same target met another way: xtokend's logins with SASL2 and Bind2, against
		// the peer's own (RFC 6120) login, a row of its own so that neither hides the other.
		if c.v == (variant{}) {
			if row, ok := peakRow(rs, sasl2Server, c.peer, c.v, c.want); ok {
				row.target = strings.Replace(row.target, "peak logins/s, plaintext", "peak logins/s, plaintext, xtokend with SASL2+Bind2", 1)
				rows = append(rows, row)
			}
		}
	}
	if has("ejabberd") {
		for _, v := range []variant{{}, {tls: true}} {
			if row, ok := messagesRow(rs, subject, "ejabberd", v, 32, 3); ok {
				rows = append(rows, row)
			}
		}
	}
	if top, _ := peaks(rs, subject, subject, variant{}); top != nil && top.ServerCPUus > 0 {
		lo, hi := top.ServerCPUus, top.ServerCPUus
		for _, l := range levelsOf(rs, "logins", variant{}) {
			if r := find(rs, subject, "logins", variant{}, l); r != nil && r.ServerCPUus > 0 {
				lo, hi = min(lo, r.ServerCPUus), max(hi, r.ServerCPUus)
			}
		}
		rows = append(rows, targetRow{"server CPU per plaintext login ≤ 80 µs (at the peak)",
			fmt.Sprintf("%.0f µs at c=%d (its peak); %.0f–%.0f µs over all concurrencies", top.ServerCPUus, top.Concurrency, lo, hi),
			verdict(top.ServerCPUus <= 80)})
		if s, _ := peaks(rs, sasl2Server, sasl2Server, variant{}); s != nil && s.ServerCPUus > 0 {
			rows = append(rows, targetRow{"server CPU per plaintext login ≤ 80 µs, with SASL2+Bind2 (at its peak)",
				fmt.Sprintf("%.0f µs at c=%d", s.ServerCPUus, s.Concurrency), verdict(s.ServerCPUus <= 80)})
		}
	}
	for _, c := range []struct {
		v      variant
		at     int
		wantKB float64
	}{{variant{}, 15000, 6}, {variant{tls: true}, 15000, 14}, {variant{ws: true}, 10000, 10}} {
		last := largestIdle(rs, subject, c.v)
		if last == nil {
			continue
		}
		kb := perSession(last)
		row := targetRow{fmt.Sprintf("≤ %.0f KB per idle session at %d, %s", c.wantKB, c.at, c.v),
			fmt.Sprintf("%.1f KB at %d sessions", kb, last.Sessions), verdict(kb > 0 && kb <= c.wantKB)}
		if last.Concurrency < c.at {
			row.verdict = fmt.Sprintf("not measured at %d", c.at)
		} else if last.Sessions < c.at {
			row.verdict = "**not met** (not all sessions opened)"
		}
		rows = append(rows, row)
	}
	if has("ejabberd") {
		top, best := peaksOf(rs, "roster-logins", subject, "ejabberd", variant{})
		if top != nil && best != nil && best.Rate > 0 {
			got := top.Rate / best.Rate
			rows = append(rows, targetRow{"peak logins/s with a 100-item roster and 20 online contacts: ≥ 2x ejabberd's",
				fmt.Sprintf("%s (%.0f at c=%d vs %.0f at c=%d)", targetRatio(got, 2), top.Rate, top.Concurrency, best.Rate, best.Concurrency),
				verdict(got >= 2)})
		}
	}
	writeTargetRows(b, "Against the targets of issue 18", rows)
}

// messagesRow compares messages/s at pairs (or, when the run had no such point, at the
// largest pairs both measured) with peer's, wanting at least want times it.
func messagesRow(rs []result, subject, peer string, v variant, pairs int, want float64) (targetRow, bool) {
	levels := levelsOf(rs, "messages", v)
	for i := len(levels) - 1; i >= 0; i-- {
		if levels[i] != pairs && slices.Contains(levels, pairs) {
			continue
		}
		x, p := find(rs, subject, "messages", v, levels[i]), find(rs, peer, "messages", v, levels[i])
		if x == nil || p == nil || p.Rate == 0 {
			continue
		}
		got := x.Rate / p.Rate
		return targetRow{fmt.Sprintf("messages/s at %d pairs, %s: ≥ %gx %s's", levels[i], v, want, peer),
			fmt.Sprintf("%s (%.0f vs %.0f)", targetRatio(got, want), x.Rate, p.Rate), verdict(got >= want)}, true
	}
	return targetRow{}, false
}

// writeSASL2 gives xtokend's SASL2+Bind2 logins beside its RFC 6120 ones and ejabberd's.
func writeSASL2(b *strings.Builder, rs []result, subject string, peers []string) {
	v := variant{}
	levels := levelsWith(rs, sasl2Server, "logins", v)
	if len(levels) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Logins, plaintext, xtokend with SASL2 and Bind2%s\n\n", runsNote(rs, "logins", v))
	b.WriteString("X-TOKEN inside SASL2's `<authenticate/>` with a Bind2 request: no stream restart, no bind iq " +
		"(`xtokend-bench logins -sasl2`). Prosody 0.12 and ejabberd 23.01 have no SASL2: their column is their RFC 6120 login.\n\n")
	fmt.Fprintf(b, "| concurrency | SASL2 logins/s | p50 / p99 ms | CPU µs/op | RFC 6120 logins/s | CPU µs/op | SASL2 ratio |")
	for _, p := range peers {
		fmt.Fprintf(b, " %s logins/s | SASL2 ratio |", p)
	}
	b.WriteString("\n|---:|---:|---:|---:|---:|---:|---:|" + strings.Repeat("---:|---:|", len(peers)) + "\n")
	for _, l := range levels {
		s, x := find(rs, sasl2Server, "logins", v, l), find(rs, subject, "logins", v, l)
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s |", l, cell(s, rateCell), cell(s, latCell), cell(s, cpuCell),
			cell(x, rateCell), cell(x, cpuCell), ratio(rate(s), rate(x)))
		for _, p := range peers {
			pr := find(rs, p, "logins", v, l)
			fmt.Fprintf(b, " %s | %s |", cell(pr, rateCell), ratio(rate(s), rate(pr)))
		}
		b.WriteString("\n")
	}
}

// writeFanout gives the presence broadcast rows (xtokend-bench fanout): one user's presence
// to every online subscriber, a row per server.
func writeFanout(b *strings.Builder, rs []result, subject string, peers []string) {
	v := variant{}
	levels := levelsOf(rs, "fanout", v)
	if len(levels) == 0 {
		return
	}
	for _, n := range levels {
		count := thousands(n)
		if n == 0 { // a line that does not say how many
			count = "its"
		}
		fmt.Fprintf(b, "\n### Presence broadcast to %s subscribers, plaintext%s\n\n", count, runsNote(rs, "fanout", v))
		b.WriteString("One user's presence changes, one at a time, each to every subscriber online (`xtokend-bench fanout`): " +
			"a broadcast ends when all its deliveries have arrived; the latencies are of every delivery, from the send to the subscriber's receipt.\n\n")
		b.WriteString("| server | broadcasts/s | delivery p50 / p99 / max ms | CPU µs/broadcast | rate ratio | CPU ratio |\n|---|---:|---:|---:|---:|---:|\n")
		x := find(rs, subject, "fanout", v, n)
		for _, s := range append([]string{subject}, peers...) {
			r := find(rs, s, "fanout", v, n)
			if r == nil {
				fmt.Fprintf(b, "| %s | – | – | – | – | – |\n", s)
				continue
			}
			rr, cr := "", ""
			if s != subject {
				rr, cr = ratio(rate(x), rate(r)), cpuRatio(r, x)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", s, cell(r, rateCell),
				cell(r, func(r *result) string { return fmt.Sprintf("%.2f / %.2f / %.2f", r.P50ms, r.P99ms, r.MaxMs) }),
				cell(r, cpuCell), rr, cr)
		}
	}
}

// thousands writes n with a comma every three digits, as the issues do.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
