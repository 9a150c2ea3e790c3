package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run serves on the address it prints and stops with exit 0 when its context ends.
func TestRunServesAndStops(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, filepath.Join(dir, "secret"), "s3cret\n")
	writeKey(t, filepath.Join(dir, "seed"), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n")
	writeKey(t, filepath.Join(dir, "converse.min.js"), "// converse")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-listen", "127.0.0.1:0", "-host", "example.test", "-dist", dir,
			"-secret-file", filepath.Join(dir, "secret"), "-seed-file", filepath.Join(dir, "seed")}, w, io.Discard)
		w.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v (exit %d)", err, <-code)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "webapp: listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	go io.Copy(io.Discard, out)
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /: %s", resp.Status)
	}
	cancel()
	select {
	case c := <-code:
		if c != exitOK {
			t.Errorf("exit %d after the context ended, want 0", c)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

// A bad command line is exit 2 and one line naming the culprit.
func TestRunRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, filepath.Join(dir, "secret"), "s3cret\n")
	writeKey(t, filepath.Join(dir, "seed"), "JBSWY3DPEHPK3PXP\n")
	writeKey(t, filepath.Join(dir, "converse.min.js"), "// converse")
	keys := []string{"-secret-file", filepath.Join(dir, "secret"), "-seed-file", filepath.Join(dir, "seed"), "-dist", dir}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-dist", dir}, "-secret-file and -seed-file are required"},
		{append([]string{"-seed-encoding", "rot13"}, keys...), "rot13"},
		{[]string{"-secret-file", filepath.Join(dir, "nope"), "-seed-file", filepath.Join(dir, "seed"), "-dist", dir}, "nope"},
		{append(keys, "-dist", filepath.Join(dir, "elsewhere")), "npm ci"},
		{append(keys, "-websocket-url", "http://127.0.0.1/"), "websocket URL"},
		{append(keys, "-log-level", "loud"), "-log-level"},
		{append(keys, "stray"), `unexpected argument "stray"`},
		{[]string{"-no-such-flag"}, "-no-such-flag"},
	} {
		var stderr strings.Builder
		code := run(context.Background(), c.args, io.Discard, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("webapp %s: exit %d, stderr %q; want exit 2 naming %q", strings.Join(c.args, " "), code, stderr.String(), c.want)
		}
	}
	if code := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); code != exitOK {
		t.Errorf("webapp -h: exit %d, want 0", code)
	}
}
