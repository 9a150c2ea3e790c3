package main

import (
	"fmt"
	"slices"
	"strings"
)

// floorServer names the results of `xtokend-bench floor`: a stand-in that answers the
// plaintext login from canned bytes, measured beside the servers as the ceiling of what
// any server written with Go's net package reaches under this tool on this machine.
const floorServer = "floor"

// writeFloor gives xtokend's plaintext logins as a share of the floor's, at each
// concurrency, and what the login targets ask of xtokend against the floor's peak.
func writeFloor(b *strings.Builder, rs []result, subject string, peers []string) {
	v := variant{}
	levels := levelsWith(rs, floorServer, "logins", v)
	if len(levels) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Logins, plaintext, against the floor%s\n\n", runsNote(rs, "logins", v))
	b.WriteString("The floor is `xtokend-bench floor`: a stand-in server in Go that answers the tool's login from canned " +
		"bytes, without parsing, checking a token or keeping a session, and sends its stream's end with the FIN as xtokend " +
		"does. It costs what the kernel's loopback TCP, Go's poller and scheduler cost, so its rate is the ceiling of any " +
		"server written with Go's net package under this tool, on these cores shared with the tool.\n\n")
	b.WriteString("| concurrency | floor logins/s | CPU µs/op | xtokend logins/s | CPU µs/op | share of the floor | SASL2+Bind2 logins/s | share of the floor |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range levels {
		f, x, s := find(rs, floorServer, "logins", v, l), find(rs, subject, "logins", v, l), find(rs, sasl2Server, "logins", v, l)
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", l, cell(f, rateCell), cell(f, cpuCell),
			cell(x, rateCell), cell(x, cpuCell), share(rate(x), rate(f)), cell(s, rateCell), share(rate(s), rate(f)))
	}
	top, _ := peaks(rs, floorServer, floorServer, v)
	if top == nil || top.Rate == 0 {
		return
	}
	fmt.Fprintf(b, "\nThe floor's peak: %.0f logins/s (c=%d) at %.0f µs of CPU per login.", top.Rate, top.Concurrency, top.ServerCPUus)
	for _, c := range []struct {
		peer string
		want float64
	}{{"ejabberd", 3.5}, {"prosody", 15}} {
		_, best := peaks(rs, subject, c.peer, v)
		if best == nil || !slices.Contains(peers, c.peer) {
			continue
		}
		need := c.want * best.Rate
		fmt.Fprintf(b, " %gx %s's peak is %.0f logins/s: %s of the floor's.", c.want, c.peer, need, share(need, top.Rate))
	}
	b.WriteString("\n")
}

// share is a as a percentage of b.
func share(a, b float64) string {
	if a == 0 || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}
