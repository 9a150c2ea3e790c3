package server

import (
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// refusalLogEvery is how often refusals are summed up in the log (a
// time.Duration). It is atomic because a test shortens it while the timers
// of earlier tests' servers may still run.
var refusalLogEvery atomic.Int64

func init() { refusalLogEvery.Store(int64(10 * time.Second)) }

// refusalLog counts connections and logins refused by the limits and logs
// one line per reason per interval instead of one per refusal: a flood of
// refusals is exactly when a line each would fill the disk (14,824 lines in
// 4 s were measured). The first refusal of an interval arms a timer; nothing
// runs while nothing is refused.
type refusalLog struct {
	mu     sync.Mutex
	counts map[string]int
	armed  bool
	every  time.Duration // the interval armed
	log    *slog.Logger
}

// add counts one refusal for reason.
func (r *refusalLog) add(log *slog.Logger, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = make(map[string]int)
	}
	r.counts[reason]++
	r.log = log
	if !r.armed {
		r.armed, r.every = true, time.Duration(refusalLogEvery.Load())
		time.AfterFunc(r.every, r.flush)
	}
}

// flush logs the counts of the interval that ended and starts a new one.
func (r *refusalLog) flush() {
	r.mu.Lock()
	counts, log, every := r.counts, r.log, r.every
	r.counts, r.armed = nil, false
	r.mu.Unlock()
	reasons := make([]string, 0, len(counts))
	for reason := range counts {
		reasons = append(reasons, reason)
	}
	sort.Strings(reasons)
	for _, reason := range reasons {
		log.Warn("refused", "reason", reason, "count", counts[reason], "in", every.String())
	}
}
