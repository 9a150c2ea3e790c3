package main

import (
	"context"
	"flag"
	"io"
	"strconv"
	"sync"
	"time"
)

// runLogins measures full logins (connect to bound resource, then close) per second at
// each concurrency level, with the latency of each login from dial to the bind result.
func runLogins(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logins", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	levels := fs.String("c", "1,8,32,128", "concurrency levels (comma-separated)")
	duration := fs.Duration("duration", 5*time.Second, "measured time per level")
	warmup := fs.Duration("warmup", time.Second, "unmeasured time before each level")
	users := fs.Int("users", 1000, "distinct usernames to cycle through (prefix0 .. prefixN-1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conc, err := parseInts(*levels)
	if err != nil {
		return err
	}
	if *users <= 0 {
		return usageError("-users must be positive")
	}
	return c.perLevel(ctx, stdout, conc, func(t *target, n int) (*result, error) {
		return measureLogins(ctx, t, &c, n, *users, *warmup, *duration, nil), nil
	})
}

// loginSteps are what a kind of login does beyond binding (the roster phase's).
type loginSteps struct {
	mode string // the results' mode
	// user names worker w's login number seq.
	user func(w, workers, seq int) string
	// after runs on the bound session; the login's time ends when it returns.
	after func(s *session) error
}

// measureLogins runs logins at one concurrency; steps, when not nil, extends each login.
func measureLogins(ctx context.Context, t *target, c *common, workers, users int, warmup, duration time.Duration, steps *loginSteps) *result {
	var (
		win     measureWindow
		wg      sync.WaitGroup
		closing sync.WaitGroup // sessions being closed
		all     tally
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := newWorker(t)
			user := c.userPrefix + strconv.Itoa(w%users)
			mine := newWorkerTally()
			defer all.add(&mine)
			ended := closeQueue{wait: time.Second}
			defer ended.drain()
			for seq := 0; !win.stopped() && ctx.Err() == nil; seq++ {
				start := time.Now()
				if steps != nil {
					user = steps.user(w, workers, seq)
				}
				s, err := wk.login(ctx, user, "b"+strconv.Itoa(w)+"-"+strconv.Itoa(seq))
				if err == nil && steps != nil {
					if err = steps.after(s); err != nil {
						s.closeNow()
					}
				}
				lat := time.Since(start)
				counted := win.counted()
				// The sessions ended before this login have had its round trips'
				// time for the server's end to come.
				ended.reap()
				if err != nil {
					if counted {
						mine.fail(err)
					}
					time.Sleep(10 * time.Millisecond) // do not spin on a refusing server
					continue
				}
				// The polite close (our stream end, then the server's) runs beside
				// the next login: some servers answer it late (ejabberd ~100 ms),
				// and that is not login time. Over TCP the worker reaps it between
				// logins (closeQueue); else a goroutine waits for it.
				if !ended.add(s) {
					closing.Add(1)
					go func() {
						defer closing.Done()
						s.close(time.Second)
					}()
				}
				if counted {
					mine.ok(lat)
				}
			}
		}()
	}
	elapsed, cpu := win.run(ctx, warmup, duration, c.serverPID)
	// Logins still in flight finish after this point and are not counted; so is their CPU.
	wg.Wait()
	closing.Wait()

	mode := "logins"
	if steps != nil {
		mode = steps.mode
	}
	if t.sasl2 {
		mode += "-sasl2" // a series of its own: not every server speaks SASL2
	}
	return all.result(c, t, mode, workers, elapsed, cpu)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}
