// Command testsummary reads `go test -json` on standard input and prints what a person needs from
// it: each package's result line as `go test` prints it, the whole output of every test that
// failed, then every skipped test with its reason, every failed test with the lines that say why
// (its errors, a data race, a panic: a reader of the run's last lines sees them without the logs
// above), and one closing count line. It exits 1 when a
// test or a package failed, so that scripts/test.sh fails with it.
//
//	go test -json ./... | go run ./scripts/testsummary [-warnings FILE]
//
// With -warnings, the lines of FILE (what the install step could not install) are repeated just
// before the count, so that a run whose clients were missing does not end in a plain "ok".
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type key struct{ pkg, test string }

func main() {
	warnings := flag.String("warnings", "", "a file whose lines are repeated before the count")
	flag.Parse()
	var notes []string
	if *warnings != "" {
		b, err := os.ReadFile(*warnings)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				notes = append(notes, l)
			}
		}
	}
	os.Exit(run(os.Stdin, os.Stdout, notes))
}

func run(in io.Reader, out io.Writer, notes []string) int {
	var (
		outputs  = map[key][]string{} // every test's output, kept until it passes
		skipped  = map[key]string{}   // the reason: the last line the test logged
		failed   []key
		why      = map[key][]string{} // a failed test's lines that say why (failureLines)
		passed   int
		pkgFails int
	)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, string(line)) // build errors and the like come as plain text
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			if e.Test == "" {
				// A package's own lines: its result ("ok ...", "FAIL ...") and anything printed
				// outside a test (TestMain).
				if s := strings.TrimRight(e.Output, "\n"); s != "" && s != "PASS" && s != "FAIL" {
					fmt.Fprintln(out, s)
				}
				continue
			}
			outputs[k] = append(outputs[k], e.Output)
		case "pass":
			if e.Test != "" {
				passed++
				delete(outputs, k)
			}
		case "skip":
			if e.Test != "" {
				skipped[k] = reason(outputs[k])
				delete(outputs, k)
			}
		case "fail":
			if e.Test == "" {
				pkgFails++
				continue
			}
			failed = append(failed, k)
			for _, o := range outputs[k] {
				fmt.Fprint(out, o)
			}
			why[k] = failureLines(outputs[k])
			delete(outputs, k)
		}
	}
	if len(skipped) > 0 {
		keys := make([]key, 0, len(skipped))
		for k := range skipped {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].pkg != keys[j].pkg {
				return keys[i].pkg < keys[j].pkg
			}
			return keys[i].test < keys[j].test
		})
		fmt.Fprintf(out, "\nskipped (%d):\n", len(keys))
		for _, k := range keys {
			fmt.Fprintf(out, "  %s %s: %s\n", shortPkg(k.pkg), k.test, skipped[k])
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(out, "\nfailed (%d):\n", len(failed))
		for _, k := range failed {
			fmt.Fprintf(out, "  %s %s\n", shortPkg(k.pkg), k.test)
			for _, l := range why[k] {
				fmt.Fprintf(out, "    %s\n", l)
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(out, "\nnot installed, so their tests skipped or failed:\n")
		for _, n := range notes {
			fmt.Fprintf(out, "  %s\n", n)
		}
	}
	fmt.Fprintf(out, "\ntests: %d passed, %d failed, %d skipped\n", passed, len(failed), len(skipped))
	if len(failed) > 0 || pkgFails > 0 {
		return 1
	}
	return 0
}

// Bounds of a failed test's lines in the closing list.
const (
	maxWhyLines = 12
	maxWhyChars = 400
)

// failureLines picks from a failed test's output the lines that say why it failed: what the test
// wrote with its file:line prefix (t.Errorf, t.Fatalf; a t.Logf too, which cannot be told apart),
// first lines only, and not a header ending "log:" (the log printed under it is its text); a data
// race's report and where it was; a panic.
// Logs run to thousands of lines; these are a few.
func failureLines(lines []string) []string {
	var out []string
	inReport, wantFrame := false, false // in a race's report or a panic; after its "... by goroutine N:"
	frameAt := -1                       // the frame just taken, whose next line is its file:line
	textIndent := -1                    // a test line's indent: the lines indented more are its text's
	for _, raw := range lines {
		for _, l := range strings.Split(strings.TrimRight(raw, "\n"), "\n") {
			s := strings.TrimSpace(l)
			indent := len(l) - len(strings.TrimLeft(l, " \t"))
			if textIndent >= 0 && indent > textIndent && !inReport {
				continue // the rest of a line's text (a log printed under a header)
			}
			textIndent = -1
			if frameAt >= 0 {
				at := frameAt
				frameAt = -1
				if f := strings.Fields(s); len(f) > 0 && strings.Contains(f[0], ".go:") {
					out[at] += " " + f[0]
					continue
				}
			}
			switch {
			case s == "":
				continue
			case s == "WARNING: DATA RACE", strings.HasPrefix(s, "panic:"):
				inReport, wantFrame = true, strings.HasPrefix(s, "panic:")
			case strings.HasPrefix(s, "=================="):
				inReport = false
				continue
			case inReport && strings.Contains(s, " by goroutine ") && !strings.HasPrefix(s, "Goroutine"):
				wantFrame = true
			case inReport && wantFrame && strings.HasPrefix(s, modulePath):
				wantFrame = false // the first frame of this module: where it was
				frameAt = len(out)
			case isTestLine(s):
				textIndent = indent
				if strings.HasSuffix(s, "log:") {
					continue
				}
			default:
				continue
			}
			if len(s) > maxWhyChars {
				s = s[:maxWhyChars] + "..."
			}
			if len(out) == maxWhyLines {
				return append(out, "(more in the output above)")
			}
			out = append(out, s)
		}
	}
	return out
}

// isTestLine reports whether s is a line a test wrote: "name_test.go:12: text".
func isTestLine(s string) bool {
	file, rest, ok := strings.Cut(s, ".go:")
	if !ok || strings.ContainsAny(file, " \t=") {
		return false
	}
	num, msg, ok := strings.Cut(rest, ": ")
	if !ok || num == "" || strings.Trim(num, "0123456789") != "" {
		return false
	}
	return msg != ""
}

// reason is the last line a skipped test logged, without the file:line prefix go test adds.
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		s := strings.TrimSpace(lines[i])
		if s == "" || strings.HasPrefix(s, "--- SKIP") || strings.HasPrefix(s, "=== ") {
			continue
		}
		if _, after, ok := strings.Cut(s, ".go:"); ok {
			if _, msg, ok := strings.Cut(after, ": "); ok {
				return msg
			}
		}
		return s
	}
	return "(no reason given)"
}

// modulePath is this module's, which the frames of its code start with.
const modulePath = "github.com/xtokend/xtokend/"

func shortPkg(p string) string { return strings.TrimPrefix(p, modulePath) }
