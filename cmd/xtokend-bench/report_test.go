package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results.jsonl")
	lines := `{"server":"prosody","mode":"logins","tls":false,"concurrency":8,"ops":1000,"errors":0,"rate":400,"p50_ms":10,"p99_ms":40,"server_cpu_us_per_op":2000}
{"server":"xtokend","mode":"logins","tls":false,"concurrency":8,"ops":5000,"errors":0,"rate":4000,"p50_ms":1,"p99_ms":4,"server_cpu_us_per_op":250}
{"server":"ejabberd","mode":"logins","tls":false,"concurrency":8,"ops":3000,"errors":0,"rate":1600,"p50_ms":4,"p99_ms":18,"server_cpu_us_per_op":900}
{"server":"xtokend","mode":"idle","tls":true,"concurrency":1000,"sessions":1000,"ops":1000,"errors":0,"rss_kb":36000,"base_rss_kb":16000}
{"server":"prosody","mode":"idle","tls":true,"concurrency":1000,"sessions":500,"ops":500,"errors":500,"rss_kb":41000,"base_rss_kb":16000}
`
	if err := os.WriteFile(results, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out, svg := filepath.Join(dir, "B.md"), filepath.Join(dir, "p.svg")
	if code := run([]string{"report", "-o", out, "-svg", svg, "-peer", "prosody,ejabberd,absent", results}, os.Stdout, os.Stderr); code != 0 {
		t.Fatalf("report exited %d", code)
	}
	md, _ := os.ReadFile(out)
	for _, want := range []string{
		"| 8 | 4000 | 1.00 / 4.00 | 250 | 400 | 10.00 / 40.00 | 2000 | 10.0x | 8.0x | 1600 | 4.00 / 18.00 | 900 | 2.5x | 3.6x |",
		"| peak logins/s above ejabberd's, plaintext | 2.5x (4000 vs 1600) | met |",
		"| 1000 | 35.2 | 20.0 | 40.0 | 50.0 (500 failed) | 2.5x | – | – | – |",
		"Peaks: xtokend 4000 logins/s (c=8), prosody 400 logins/s (c=8): 10.0x.",
		"| peak logins/s, plaintext: ≥ 10x prosody's | 10.0x (4000 vs 400) | met |",
		"| p99 < 20 ms at c=8 (prosody's peak), plaintext | 4.00 ms | met |",
		"| ≤ 24 KB per idle session, STARTTLS | 20.0 KB at 1000 sessions | met |",
		"| ≥ 15,000 idle sessions held, STARTTLS | 1000 | **not met** |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if b, err := os.ReadFile(svg); err != nil || !strings.Contains(string(b), "<polyline") {
		t.Errorf("svg: %v, %.200s", err, b)
	}
	if code := run([]string{"report", filepath.Join(dir, "missing.jsonl")}, os.Stdout, os.Stderr); code == 0 {
		t.Error("a missing results file: exit 0")
	}
}

// WebSocket rows get their own tables and issue 13's targets; a point run several times is
// reported as the means of its runs.
func TestReportWebSocketMeans(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results.jsonl")
	lines := `{"server":"prosody","mode":"logins","transport":"websocket","tls":false,"concurrency":4,"ops":1000,"errors":0,"rate":300,"p50_ms":10,"p99_ms":40,"server_cpu_us_per_op":3000}
{"server":"ejabberd","mode":"logins","transport":"websocket","tls":false,"concurrency":4,"ops":1000,"errors":0,"rate":1000,"p50_ms":4,"p99_ms":20,"server_cpu_us_per_op":1000}
{"server":"xtokend","mode":"logins","transport":"websocket","tls":false,"concurrency":4,"ops":5000,"errors":0,"rate":3000,"p50_ms":1,"p99_ms":3,"server_cpu_us_per_op":200}
{"server":"prosody","mode":"logins","transport":"websocket","tls":false,"concurrency":4,"ops":1000,"errors":0,"rate":500,"p50_ms":20,"p99_ms":60,"server_cpu_us_per_op":2000}
{"server":"ejabberd","mode":"logins","transport":"websocket","tls":false,"concurrency":4,"ops":1000,"errors":0,"rate":1400,"p50_ms":6,"p99_ms":30,"server_cpu_us_per_op":800}
{"server":"xtokend","mode":"logins","transport":"websocket","tls":false,"concurrency":4,"ops":5000,"errors":0,"rate":5000,"p50_ms":3,"p99_ms":5,"server_cpu_us_per_op":100}
{"server":"xtokend","mode":"logins","tls":false,"concurrency":4,"ops":5000,"errors":0,"rate":7000,"p50_ms":1,"p99_ms":2,"server_cpu_us_per_op":100}
{"server":"xtokend","mode":"idle","transport":"websocket","tls":false,"concurrency":10000,"sessions":10000,"ops":10000,"errors":0,"rss_kb":136000,"base_rss_kb":16000}
{"server":"prosody","mode":"idle","transport":"websocket","tls":false,"concurrency":10000,"sessions":10000,"ops":10000,"errors":0,"rss_kb":416000,"base_rss_kb":16000}
`
	if err := os.WriteFile(results, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "B.md")
	if code := run([]string{"report", "-o", out, "-peer", "prosody,ejabberd", results}, os.Stdout, os.Stderr); code != 0 {
		t.Fatalf("report exited %d", code)
	}
	md, _ := os.ReadFile(out)
	for _, want := range []string{
		"### Logins, WebSocket (ws://) (means of 2 runs)",
		// means: xtokend 4000/s, 2/4 ms, 150 µs; prosody 400/s, 15/50 ms, 2500 µs; ejabberd 1200/s, 5/25 ms, 900 µs
		"| 4 | 4000 | 2.00 / 4.00 | 150 | 400 | 15.00 / 50.00 | 2500 | 10.0x | 16.7x | 1200 | 5.00 / 25.00 | 900 | 3.3x | 6.0x |",
		"### Logins, plaintext\n", // the TCP point stays apart
		"| 4 | 7000 | 1.00 / 2.00 | 100 |",
		"### Against the targets of issue 13 (XMPP over WebSocket)",
		"| peak logins/s, WebSocket (ws://): ≥ 10x prosody's | 10.0x (4000 vs 400) | met |",
		"| peak logins/s, WebSocket (ws://): ≥ 2x ejabberd's | 3.3x (4000 vs 1200) | met |",
		"| ≤ 12 KB per idle session, WebSocket (ws://) | 12.0 KB at 10000 sessions | met |",
		"### Idle sessions, WebSocket (ws://) (server RSS)",
		"| 10000 | 132.8 | 12.0 | 406.2 | 40.0 | 3.3x |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// The stored phase's rows get their tables and issue 15's targets, at each server's own peak.
func TestReportStored(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results.jsonl")
	lines := `{"server":"prosody","mode":"roster-logins","tls":false,"concurrency":1,"ops":300,"errors":0,"rate":60,"p50_ms":15,"p99_ms":40,"server_cpu_us_per_op":15000}
{"server":"prosody","mode":"roster-logins","tls":false,"concurrency":8,"ops":300,"errors":0,"rate":50,"p50_ms":150,"p99_ms":300,"server_cpu_us_per_op":16000}
{"server":"ejabberd","mode":"roster-logins","tls":false,"concurrency":8,"ops":800,"errors":0,"rate":160,"p50_ms":50,"p99_ms":80,"server_cpu_us_per_op":6000}
{"server":"xtokend","mode":"roster-logins","tls":false,"concurrency":1,"ops":2500,"errors":0,"rate":500,"p50_ms":2,"p99_ms":5,"server_cpu_us_per_op":1100}
{"server":"xtokend","mode":"roster-logins","tls":false,"concurrency":8,"ops":3000,"errors":0,"rate":300,"p50_ms":6,"p99_ms":14,"server_cpu_us_per_op":800}
{"server":"xtokend","mode":"offline-store","tls":false,"concurrency":8,"ops":4000,"errors":0,"rate":2000,"p50_ms":2000,"p99_ms":2040,"server_cpu_us_per_op":300}
{"server":"prosody","mode":"offline-store","tls":false,"concurrency":8,"ops":4000,"errors":0,"rate":5000,"p50_ms":800,"p99_ms":810,"server_cpu_us_per_op":200}
{"server":"xtokend","mode":"offline-deliver","tls":false,"concurrency":8,"ops":4000,"errors":0,"rate":100000,"p50_ms":30,"p99_ms":38,"server_cpu_us_per_op":10}
`
	if err := os.WriteFile(results, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "B.md")
	if code := run([]string{"report", "-o", out, "-peer", "prosody,ejabberd", results}, os.Stdout, os.Stderr); code != 0 {
		t.Fatalf("report exited %d", code)
	}
	md, _ := os.ReadFile(out)
	for _, want := range []string{
		"### Against the targets of issue 15 (logins with a roster)",
		"| peak logins/s with a roster: ≥ 5x prosody's | 8.3x (500 at c=1 vs 60 at c=1) | met |",
		"| peak logins/s with a roster: ≥ 2x ejabberd's | 3.1x (500 at c=1 vs 160 at c=8) | met |",
		"### Logins with a roster (roster get, initial presence, the online contacts' presence), plaintext",
		"| 8 | 300 | 6.00 / 14.00 | 800 | 50 | 150.00 / 300.00 | 16000 | 6.0x | 20.0x | 160 | 50.00 / 80.00 | 6000 | 1.9x | 7.5x |",
		"### Offline messages stored, plaintext",
		"| 8 | 2000 | 2000.00 / 2040.00 | 300 | 5000 | 800.00 / 810.00 | 200 | 0.4x | 0.7x | – | – | – | – | – |",
		"### Offline messages delivered at login, plaintext",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
