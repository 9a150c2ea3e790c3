// Command testsummary reads `go test -json` on standard input and prints what a person needs from
// it: each package's result line as `go test` prints it, the whole output of every test that
// failed, then every skipped test with its reason, and one closing count line. It exits 1 when a
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

func shortPkg(p string) string { return strings.TrimPrefix(p, "github.com/xtokend/xtokend/") }
