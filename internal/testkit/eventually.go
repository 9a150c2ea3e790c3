package testkit

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, and fails the test with what when
// it still does not after within. It waits 5 ms between polls at first,
// doubling up to 100 ms, so that a fast condition costs little and a slow
// one does not spin. cond runs on the test's goroutine: it may itself fail
// the test (a process that exited while the test waited, say).
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(within)
	wait := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}
