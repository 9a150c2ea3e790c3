package testkit

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestEventually(t *testing.T) {
	polls := 0
	Eventually(t, time.Second, "the third poll", func() bool { polls++; return polls == 3 })
	if polls != 3 {
		t.Errorf("%d polls, want 3", polls)
	}

	f := &fatalRecorder{TB: t}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		Eventually(f, 50*time.Millisecond, "never", func() bool { return false })
	}()
	<-done
	if f.msg != "after 50ms: never" {
		t.Errorf("failed with %q, want %q", f.msg, "after 50ms: never")
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("gave up after %s, before the 50ms", waited)
	}
}
