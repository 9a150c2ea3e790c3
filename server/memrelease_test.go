package server_test

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/server/servertest"
)

// After a drop from a peak of connections to a quarter of it, the server
// returns idle memory to the OS once.
func TestMemoryReleasedAfterDrop(t *testing.T) {
	defer server.SetMemRelease(8, 50*time.Millisecond)()
	ts := servertest.Start(t, servertest.Options{})
	var conns []net.Conn
	for range 8 {
		conns = append(conns, dialIdle(t, ts.Addr))
	}
	waitOpen(t, ts, 8)
	if n := ts.MemoryReleases(); n != 0 {
		t.Fatalf("%d releases at the peak", n)
	}
	for _, c := range conns {
		c.Close()
	}
	waitOpen(t, ts, 0)
	deadline := time.Now().Add(waitLimit)
	for ts.MemoryReleases() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d releases after the drop, want 1", ts.MemoryReleases())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(ts.Logs(), "returned idle memory") {
		t.Errorf("the release was not logged")
	}
}

// BenchmarkFloodMemory floods a server with connections that each get as
// far as the stream features, closes them all, and reports the process's
// RSS at the peak, once every connection is gone, and after the server
// returned idle memory (the client's side is in the same process and
// counted too). XTOKEND_FLOOD_N sets the number (default 9000: two
// descriptors each, under a limit of 20,000). Run with -benchtime=1x.
func BenchmarkFloodMemory(b *testing.B) {
	n := 9000
	if v, err := strconv.Atoi(os.Getenv("XTOKEND_FLOOD_N")); err == nil && v > 0 {
		n = v
	}
	defer server.SetMemRelease(n/2, 2*time.Second)()
	ts := servertest.Start(b, servertest.Options{NegotiationTimeout: time.Hour})
	for b.Loop() {
		releases := ts.MemoryReleases()
		conns := make([]net.Conn, 0, n)
		buf := make([]byte, 4096)
		for range n {
			c, err := net.Dial("tcp", ts.Addr)
			if err != nil {
				b.Fatalf("after %d connections: %v", len(conns), err)
			}
			conns = append(conns, c)
			c.Write([]byte(wHeader))
			var got []byte
			for !strings.Contains(string(got), "</stream:features>") {
				k, err := c.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got = append(got, buf[:k]...)
			}
		}
		peak := rssMB(b)
		for _, c := range conns {
			c.Close()
		}
		waitOpen(b, ts, 0)
		closed := rssMB(b)
		deadline := time.Now().Add(time.Minute)
		for ts.MemoryReleases() == releases && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		b.ReportMetric(peak, "peak-RSS-MB")
		b.ReportMetric(closed, "closed-RSS-MB")
		b.ReportMetric(rssMB(b), "released-RSS-MB")
	}
}

// rssMB reads the process's resident set size.
func rssMB(tb testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}
