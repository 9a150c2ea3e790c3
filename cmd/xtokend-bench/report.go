package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// runReport reads result lines (JSON, one per line, from -json of the other modes and from
// bench/run.sh for idle memory) and writes a Markdown report comparing -subject with each -peer,
// and optionally an SVG plot of logins/s against concurrency.
func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "BENCHMARKS.md", "Markdown `file` to write (- for stdout)")
	svg := fs.String("svg", "", "SVG plot `file` of logins/s against concurrency to write (empty: none)")
	svgLink := fs.String("svg-link", "", "how the Markdown links the SVG (default: -svg); the other plots are linked from its folder")
	rssSVG := fs.String("rss-svg", "", "SVG plot `file` of RSS against idle sessions to write (empty: none)")
	growthSVG := fs.String("growth-svg", "", "SVG plot `file` of CPU per op and memory against sessions held (empty: none)")
	preamble := fs.String("preamble", "", "Markdown `file` to put first (machine, commands)")
	subject := fs.String("subject", "xtokend", "the server measured")
	peerList := fs.String("peer", "prosody", "the servers it is compared with (comma-separated; the issue's targets use the first)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("report: name at least one results file")
	}
	var rs []result
	for _, path := range fs.Args() {
		got, err := readResults(path)
		if err != nil {
			return err
		}
		rs = append(rs, got...)
	}
	var b strings.Builder
	if *preamble != "" {
		pre, err := os.ReadFile(*preamble)
		if err != nil {
			return err
		}
		b.Write(pre)
		b.WriteString("\n")
	}
	var peers []string
	for p := range strings.SplitSeq(*peerList, ",") {
		if p = strings.TrimSpace(p); p != "" && slices.ContainsFunc(rs, func(r result) bool { return r.Server == p }) {
			peers = append(peers, p)
		}
	}
	if len(peers) > 0 {
		writeIssue18Targets(&b, rs, *subject, peers)
		writeTargets(&b, rs, *subject, peers)
	}
	linkDir := filepath.Dir(*svgLink)
	if *svgLink == "" {
		linkDir = filepath.Dir(*svg)
	}
	var p plots
	for _, f := range []struct {
		file string
		link *string
		draw func([]result) string
	}{{*svg, &p.logins, plotLogins}, {*rssSVG, &p.rss, plotRSS}, {*growthSVG, &p.growth, plotGrowth}} {
		if f.file == "" {
			continue
		}
		if err := os.WriteFile(f.file, []byte(f.draw(rs)), 0o644); err != nil {
			return err
		}
		*f.link = filepath.ToSlash(filepath.Join(linkDir, filepath.Base(f.file)))
	}
	writeTables(&b, rs, *subject, peers, p)
	if *out == "-" {
		_, err := io.WriteString(stdout, b.String())
		return err
	}
	return os.WriteFile(*out, []byte(b.String()), 0o644)
}

func readResults(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []result
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			return nil, fmt.Errorf("report: %s:%d: %v", path, line, err)
		}
		if r.Mode == "logins-sasl2" {
			// xtokend-bench logins -sasl2 names its mode so; the report keeps the series
			// apart by server, in the logins tables and plot.
			r.Mode, r.Server = "logins", sasl2Server
		}
		if r.Mode == "fanout" && r.Concurrency == 0 {
			// The broadcast's subscribers, whichever field the line names them in.
			var extra struct {
				Subscribers int `json:"subscribers"`
			}
			json.Unmarshal([]byte(text), &extra)
			r.Concurrency = extra.Subscribers
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

// variant is the kind of connection a table covers: TCP (plaintext or STARTTLS) or XMPP over
// WebSocket (ws://, or wss:// when tls).
type variant struct {
	ws, tls bool
}

// variants in the order the report shows them.
var variants = []variant{{false, false}, {false, true}, {true, false}, {true, true}}

func variantOf(r *result) variant { return variant{ws: r.Transport == "websocket", tls: r.TLS} }

func (v variant) String() string {
	switch {
	case v.ws && v.tls:
		return "WebSocket (wss://)"
	case v.ws:
		return "WebSocket (ws://)"
	case v.tls:
		return "STARTTLS"
	}
	return "plaintext"
}

// find returns the result of a point; when the point was run several times (repeated runs,
// or several results files), a result whose figures are the means of the runs, counts the
// sums, and Runs says how many there were.
func find(rs []result, server, mode string, v variant, level int) *result {
	var got []*result
	for i := range rs {
		r := &rs[i]
		if r.Server == server && r.Mode == mode && variantOf(r) == v && r.Concurrency == level {
			got = append(got, r)
		}
	}
	switch len(got) {
	case 0:
		return nil
	case 1:
		m := *got[0]
		m.Runs = 1
		return &m
	}
	m := *got[0]
	m.Ops, m.Errors, m.FirstError = 0, 0, ""
	var rate, p50, p99, cpu, tool, rss, base, sessions float64
	for _, r := range got {
		m.Ops += r.Ops
		m.Errors += r.Errors
		if m.FirstError == "" {
			m.FirstError = r.FirstError
		}
		rate += r.Rate
		p50 += r.P50ms
		p99 += r.P99ms
		cpu += r.ServerCPUus
		tool += r.ToolCPUus
		rss += float64(r.RSSKB)
		base += float64(r.BaseRSSKB)
		sessions += float64(r.Sessions)
	}
	n := float64(len(got))
	m.Runs = len(got)
	m.Rate, m.P50ms, m.P99ms, m.ServerCPUus, m.ToolCPUus = rate/n, p50/n, p99/n, cpu/n, tool/n
	m.RSSKB, m.BaseRSSKB, m.Sessions = int64(rss/n+0.5), int64(base/n+0.5), int(sessions/n+0.5)
	return &m
}

// runsOf is the most runs any point of mode and v had.
func runsOf(rs []result, mode string, v variant) int {
	type point struct {
		server string
		level  int
	}
	count := map[point]int{}
	most := 0
	for i := range rs {
		r := &rs[i]
		if r.Mode == mode && variantOf(r) == v {
			k := point{r.Server, r.Concurrency}
			count[k]++
			most = max(most, count[k])
		}
	}
	return most
}

// runsNote says, when points were run more than once, that the figures are means.
func runsNote(rs []result, mode string, v variant) string {
	if n := runsOf(rs, mode, v); n > 1 {
		return fmt.Sprintf(" (means of %d runs)", n)
	}
	return ""
}

func levelsOf(rs []result, mode string, v variant) []int {
	var ls []int
	for i := range rs {
		r := &rs[i]
		if r.Mode != mode || variantOf(r) != v {
			continue
		}
		l := r.Concurrency // for idle: the sessions tried
		if !slices.Contains(ls, l) {
			ls = append(ls, l)
		}
	}
	slices.Sort(ls)
	return ls
}

// levelsWith are the levels of mode at which server has a result.
func levelsWith(rs []result, server, mode string, v variant) []int {
	var levels []int
	for _, l := range levelsOf(rs, mode, v) {
		if find(rs, server, mode, v, l) != nil {
			levels = append(levels, l)
		}
	}
	return levels
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1fx", a/b)
}

func cell(r *result, f func(*result) string) string {
	if r == nil {
		return "–"
	}
	if r.Errors > 0 && r.Ops == 0 {
		return "failed"
	}
	return f(r)
}

func rate(r *result) float64 {
	if r == nil {
		return 0
	}
	return r.Rate
}

// plots are the Markdown links of the plots written (empty: not written).
type plots struct{ logins, rss, growth string }

func writeTables(b *strings.Builder, rs []result, subject string, peers []string, p plots) {
	for _, mode := range []string{"logins", "resume", "messages", "roster-logins", "offline-store", "offline-deliver"} {
		unit := map[string]string{"logins": "logins/s", "resume": "resumptions/s", "messages": "messages/s", "roster-logins": "logins/s", "offline-store": "messages/s", "offline-deliver": "messages/s"}[mode]
		levelName := map[string]string{"logins": "concurrency", "resume": "concurrency", "messages": "pairs", "roster-logins": "concurrency", "offline-store": "pairs", "offline-deliver": "pairs"}[mode]
		for _, v := range variants {
			levels := levelsOf(rs, mode, v)
			if len(levels) == 0 {
				continue
			}
			title := map[string]string{"logins": "Logins", "resume": "Reconnecting by stream-management resumption", "messages": "Messages",
				"roster-logins": "Logins with a roster (roster get, initial presence, the online contacts' presence)",
				"offline-store": "Offline messages stored", "offline-deliver": "Offline messages delivered at login"}[mode]
			fmt.Fprintf(b, "\n### %s, %s%s\n\n", title, v, runsNote(rs, mode, v))
			if mode == "resume" {
				b.WriteString(resumeNote)
			}
			fmt.Fprintf(b, "| %s | %s %s | p50 / p99 ms | CPU µs/op |", levelName, subject, unit)
			for _, peer := range peers {
				fmt.Fprintf(b, " %s %s | p50 / p99 ms | CPU µs/op | %s ratio | CPU ratio |", peer, unit, unit)
			}
			b.WriteString("\n|---:|---:|---:|---:|" + strings.Repeat("---:|---:|---:|---:|---:|", len(peers)) + "\n")
			for _, l := range levels {
				x := find(rs, subject, mode, v, l)
				fmt.Fprintf(b, "| %d | %s | %s | %s |", l, cell(x, rateCell), cell(x, latCell), cell(x, cpuCell))
				for _, peer := range peers {
					p := find(rs, peer, mode, v, l)
					fmt.Fprintf(b, " %s | %s | %s | %s | %s |", cell(p, rateCell), cell(p, latCell), cell(p, cpuCell),
						ratio(rate(x), rate(p)), cpuRatio(p, x))
				}
				b.WriteString("\n")
			}
			if mode == "logins" {
				for _, peer := range peers {
					peakNote(b, rs, subject, peer, v)
				}
			}
		}
		if mode == "logins" {
			writeSASL2(b, rs, subject, peers)
			writeFloor(b, rs, subject, peers)
			if p.logins != "" && slices.ContainsFunc(rs, func(r result) bool { return r.Mode == "logins" }) {
				fmt.Fprintf(b, "\n![logins per second against concurrency](%s)\n", p.logins)
			}
		}
		if mode == "messages" {
			writeFanout(b, rs, subject, peers)
		}
	}
	writeIdle(b, rs, subject, peers, "idle", "")
	writeIdle(b, rs, subject, peers, "idle-sm", ", stream management enabled (resumable)")
	if p.rss != "" && slices.ContainsFunc(rs, func(r result) bool { return strings.HasPrefix(r.Mode, "idle") }) {
		fmt.Fprintf(b, "\n![server RSS against idle sessions held](%s)\n", p.rss)
	}
	writeGrowth(b, rs, subject, peers)
	if p.growth != "" && len(heldCounts(rs)) > 0 {
		fmt.Fprintf(b, "\n![CPU per operation and memory per session against sessions held](%s)\n", p.growth)
	}
}

// resumeNote says what a resumption is, above its tables.
const resumeNote = "Each worker holds one resumable session (XEP-0198, `<enable resume='true'/>`) and, again and again, drops its TCP " +
	"connection without ending the stream, connects anew, authenticates again (X-TOKEN for xtokend, PLAIN for the peers) and " +
	"resumes the session with `<resume previd h/>` instead of binding (`xtokend-bench resume`); the latency is from the connect " +
	"to `<resumed/>`. A `<failed/>` is an error.\n\n"

// writeIdle gives the idle rows of mode (idle, idle-sm), a table per connection kind.
func writeIdle(b *strings.Builder, rs []result, subject string, peers []string, mode, what string) {
	for _, v := range variants {
		levels := levelsOf(rs, mode, v)
		if len(levels) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n### Idle sessions, %s%s (server RSS)%s\n\n", v, what, runsNote(rs, mode, v))
		fmt.Fprintf(b, "| sessions | %s RSS MB | %s KB/session |", subject, subject)
		for _, peer := range peers {
			fmt.Fprintf(b, " %s RSS MB | %s KB/session | memory ratio |", peer, peer)
		}
		b.WriteString("\n|---:|---:|---:|" + strings.Repeat("---:|---:|---:|", len(peers)) + "\n")
		for _, l := range levels {
			x := find(rs, subject, mode, v, l)
			fmt.Fprintf(b, "| %d | %s | %s |", l, cell(x, rssCell), cell(x, perSessionCell))
			for _, peer := range peers {
				p := find(rs, peer, mode, v, l)
				fmt.Fprintf(b, " %s | %s | %s |", cell(p, rssCell), cell(p, perSessionCell), ratio(perSession(p), perSession(x)))
			}
			b.WriteString("\n")
		}
		b.WriteString("\nKB/session is (RSS with N sessions − RSS of the fresh server) / N, N counting only the sessions that opened.\n")
	}
}

func rateCell(r *result) string {
	s := fmt.Sprintf("%.0f", r.Rate)
	if r.Errors > 0 {
		s += fmt.Sprintf(" (%d errors)", r.Errors)
	}
	return s
}
func latCell(r *result) string { return fmt.Sprintf("%.2f / %.2f", r.P50ms, r.P99ms) }
func cpuCell(r *result) string {
	if r.ServerCPUus == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", r.ServerCPUus)
}
func cpuRatio(peer, subject *result) string {
	if peer == nil || subject == nil {
		return "–"
	}
	return ratio(peer.ServerCPUus, subject.ServerCPUus)
}
func rssCell(r *result) string { return fmt.Sprintf("%.1f", float64(r.RSSKB)/1024) }
func perSession(r *result) float64 {
	if r == nil || r.Sessions == 0 || r.RSSKB <= r.BaseRSSKB {
		return 0
	}
	return float64(r.RSSKB-r.BaseRSSKB) / float64(r.Sessions)
}
func perSessionCell(r *result) string {
	s := fmt.Sprintf("%.1f", perSession(r))
	if r.Errors > 0 {
		s += fmt.Sprintf(" (%d failed)", r.Errors)
	}
	return s
}

// peakNote names the peer's best concurrency and the subject's figures there.
func peakNote(b *strings.Builder, rs []result, subject, peer string, v variant) {
	top, best := peaks(rs, subject, peer, v)
	if best == nil || top == nil {
		return
	}
	at := find(rs, subject, "logins", v, best.Concurrency)
	fmt.Fprintf(b, "\nPeaks: %s %.0f logins/s (c=%d), %s %.0f logins/s (c=%d): %s.", subject, top.Rate, top.Concurrency, peer, best.Rate, best.Concurrency, ratio(top.Rate, best.Rate))
	if at != nil {
		fmt.Fprintf(b, " At c=%d, where %s peaks, %s's p99 is %.2f ms.", best.Concurrency, peer, subject, at.P99ms)
	}
	b.WriteString("\n")
}

// peaks returns the subject's and the peer's best logins/s (of the means, when points were
// run more than once).
func peaks(rs []result, subject, peer string, v variant) (top, best *result) {
	return peaksOf(rs, "logins", subject, peer, v)
}

// peaksOf is peaks for the results of mode.
func peaksOf(rs []result, mode, subject, peer string, v variant) (top, best *result) {
	for _, l := range levelsOf(rs, mode, v) {
		if r := find(rs, subject, mode, v, l); r != nil && (top == nil || r.Rate > top.Rate) {
			top = r
		}
		if r := find(rs, peer, mode, v, l); r != nil && (best == nil || r.Rate > best.Rate) {
			best = r
		}
	}
	return top, best
}

// targetRow is one line of a targets table.
type targetRow struct{ target, measured, verdict string }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// peakRow compares the subject's peak logins/s with peer's, wanting at least want times it
// (want 0: more than it).
func peakRow(rs []result, subject, peer string, v variant, want float64) (targetRow, bool) {
	top, best := peaks(rs, subject, peer, v)
	if top == nil || best == nil || best.Rate == 0 {
		return targetRow{}, false
	}
	got := top.Rate / best.Rate
	measured := fmt.Sprintf("%s (%.0f vs %.0f)", targetRatio(got, max(want, 1)), top.Rate, best.Rate)
	if want == 0 {
		return targetRow{fmt.Sprintf("peak logins/s above %s's, %s", peer, v), measured, verdict(got > 1)}, true
	}
	return targetRow{fmt.Sprintf("peak logins/s, %s: ≥ %gx %s's", v, want, peer), measured, verdict(got >= want)}, true
}

// largestIdle is the subject's idle point with the most sessions tried.
func largestIdle(rs []result, subject string, v variant) *result {
	levels := levelsOf(rs, "idle", v)
	for i := len(levels) - 1; i >= 0; i-- {
		if r := find(rs, subject, "idle", v, levels[i]); r != nil {
			return r
		}
	}
	return nil
}

// targetRatio writes a measured ratio against a target's, with one decimal, or two where one
// would round it onto the other side of the target (2.96x is not 3.0x's "met").
func targetRatio(got, want float64) string {
	if one := fmt.Sprintf("%.1f", got); (got >= want) != (mustFloat(one) >= want) {
		return fmt.Sprintf("%.2fx", got)
	}
	return fmt.Sprintf("%.1fx", got)
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func writeTargetRows(b *strings.Builder, title string, rows []targetRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### %s\n\n| target | measured | |\n|---|---|---|\n", title)
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s | %s |\n", r.target, r.measured, r.verdict)
	}
}

// writeTargets checks the figures against issue 7's targets (TCP) and issue 13's
// (WebSocket).
func writeTargets(b *strings.Builder, rs []result, subject string, peers []string) {
	peer := peers[0]
	var rows []targetRow
	for _, c := range []struct {
		v    variant
		want float64
	}{{variant{}, 10}, {variant{tls: true}, 5}} {
		row, ok := peakRow(rs, subject, peer, c.v, c.want)
		if !ok {
			continue
		}
		rows = append(rows, row)
		_, best := peaks(rs, subject, peer, c.v)
		if at := find(rs, subject, "logins", c.v, best.Concurrency); at != nil {
			rows = append(rows, targetRow{fmt.Sprintf("p99 < 20 ms at c=%d (%s's peak), %s", best.Concurrency, peer, c.v),
				fmt.Sprintf("%.2f ms", at.P99ms), verdict(at.P99ms < 20)})
		}
	}
	for _, c := range []struct {
		v    variant
		want float64
	}{{variant{}, 16}, {variant{tls: true}, 24}} {
		last := largestIdle(rs, subject, c.v)
		if last == nil {
			continue
		}
		kb := perSession(last)
		rows = append(rows, targetRow{fmt.Sprintf("≤ %.0f KB per idle session, %s", c.want, c.v),
			fmt.Sprintf("%.1f KB at %d sessions", kb, last.Sessions), verdict(kb > 0 && kb <= c.want)})
		rows = append(rows, targetRow{fmt.Sprintf("≥ 15,000 idle sessions held, %s", c.v),
			fmt.Sprintf("%d", last.Sessions), verdict(last.Sessions >= 15000)})
	}
	for _, p := range peers[1:] {
		for _, v := range variants[:2] {
			if row, ok := peakRow(rs, subject, p, v, 0); ok {
				rows = append(rows, row)
			}
		}
	}
	writeTargetRows(b, "Against the targets of issue 7", rows)

	// Issue 13: XMPP over WebSocket, plaintext ws://, against Prosody (10x) and ejabberd (2x).
	rows = nil
	ws := variant{ws: true}
	for _, c := range []struct {
		peer string
		want float64
	}{{"prosody", 10}, {"ejabberd", 2}} {
		if !slices.Contains(peers, c.peer) {
			continue
		}
		if row, ok := peakRow(rs, subject, c.peer, ws, c.want); ok {
			rows = append(rows, row)
		}
	}
	if last := largestIdle(rs, subject, ws); last != nil {
		kb := perSession(last)
		rows = append(rows, targetRow{fmt.Sprintf("≤ 12 KB per idle session, %s", ws),
			fmt.Sprintf("%.1f KB at %d sessions", kb, last.Sessions), verdict(kb > 0 && kb <= 12)})
	}
	writeTargetRows(b, "Against the targets of issue 13 (XMPP over WebSocket)", rows)
	writeStoredTargets(b, rs, subject, peers)
}
