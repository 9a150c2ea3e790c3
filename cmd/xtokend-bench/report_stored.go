package main

import (
	"fmt"
	"slices"
	"strings"
)

// writeStoredTargets checks the stored phase against issue 15's targets: peak logins/s with
// a roster at least 5x Prosody's and 2x ejabberd's.
func writeStoredTargets(b *strings.Builder, rs []result, subject string, peers []string) {
	var rows []targetRow
	for _, c := range []struct {
		peer string
		want float64
	}{{"prosody", 5}, {"ejabberd", 2}} {
		if !slices.Contains(peers, c.peer) {
			continue
		}
		top, best := peaksOf(rs, "roster-logins", subject, c.peer, variant{})
		if top == nil || best == nil || best.Rate == 0 {
			continue
		}
		got := top.Rate / best.Rate
		rows = append(rows, targetRow{
			fmt.Sprintf("peak logins/s with a roster: ≥ %gx %s's", c.want, c.peer),
			fmt.Sprintf("%s (%.0f at c=%d vs %.0f at c=%d)", targetRatio(got, c.want), top.Rate, top.Concurrency, best.Rate, best.Concurrency),
			verdict(got >= c.want)})
	}
	writeTargetRows(b, "Against the targets of issue 15 (logins with a roster)", rows)
}
