package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runIdle opens -n bound sessions, prints "READY n errors=e" once they are all open (a
// script then reads the server's RSS), and holds them until it is stopped (SIGTERM or
// SIGINT) or -hold passes. One process holds at most ~19,000 sockets (the open-file limit
// here is 20,000): run several with different -offset for more.
func runIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	n := fs.Int("n", 1000, "sessions to hold")
	offset := fs.Int("offset", 0, "first user number (give each process its own range)")
	workers := fs.Int("c", 16, "logins in parallel while opening")
	hold := fs.Duration("hold", 0, "how long to hold the sessions (0: until SIGTERM/SIGINT)")
	sm := fs.Bool("sm", false, "enable stream management on each session (XEP-0198 <enable resume='true'/>), as a phone's client does")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *workers <= 0 {
		return usageError("-n and -c must be positive")
	}
	t, err := c.target()
	if err != nil {
		return err
	}

	var (
		next, errs, dropped atomic.Int64
		closing             atomic.Bool
		mu                  sync.Mutex
		sessions            = make([]*session, 0, *n)
		firstErr            string
		wg, readers         sync.WaitGroup
	)
	start := time.Now()
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := newWorker(t)
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				user := c.userPrefix + strconv.Itoa(*offset+i)
				s, err := wk.login(ctx, user, "idle")
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err.Error()
						mu.Unlock()
					}
					continue
				}
				if *sm {
					if _, err := enableSM(s, t.timeout); err != nil {
						s.closeNow()
						if errs.Add(1) == 1 {
							mu.Lock()
							firstErr = err.Error()
							mu.Unlock()
						}
						continue
					}
				}
				s.sc = nil // the idle reader below needs no scanner buffer
				mu.Lock()
				sessions = append(sessions, s)
				mu.Unlock()
				readers.Add(1)
				go func() {
					defer readers.Done()
					var buf [64]byte
					for {
						if _, err := s.conn.Read(buf[:]); err != nil {
							if !closing.Load() {
								dropped.Add(1)
							}
							return
						}
					}
				}()
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(stdout, "READY %d errors=%d seconds=%.1f\n", len(sessions), errs.Load(), time.Since(start).Seconds())
	if firstErr != "" {
		fmt.Fprintf(stderr, "xtokend-bench: first error: %s\n", firstErr)
	}
	if *hold > 0 {
		sleepCtx(ctx, *hold)
	} else {
		<-ctx.Done()
	}
	closing.Store(true)
	for _, s := range sessions {
		s.conn.Write(s.end)
		s.closeNow()
	}
	readers.Wait()
	fmt.Fprintf(stdout, "CLOSED %d dropped-by-server=%d\n", len(sessions), dropped.Load())
	return nil
}

var smEnable = []byte("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")

// enableSM makes s a resumable stream management session, waits for <enabled/> and
// returns its id (what a <resume/> names as previd).
func enableSM(s *session, timeout time.Duration) ([]byte, error) {
	s.conn.SetDeadline(time.Now().Add(timeout))
	defer s.conn.SetDeadline(time.Time{})
	if _, err := s.conn.Write(smEnable); err != nil {
		return nil, fail("sm", err)
	}
	for {
		el, err := s.sc.next()
		if err != nil {
			return nil, fail("sm", err)
		}
		switch {
		case el.Kind != kindChild:
			return nil, fail("sm", fmt.Errorf("stream ended: %.200s", el.Raw))
		case el.Is("enabled"):
			id := attr(el.Raw, "id")
			if len(id) == 0 || string(attr(el.Raw, "resume")) != "true" && string(attr(el.Raw, "resume")) != "1" {
				return nil, fail("sm", fmt.Errorf("not resumable: %.300s", el.Raw))
			}
			return bytes.Clone(id), nil
		case el.Is("failed"):
			return nil, fail("sm", fmt.Errorf("server answered %.300s", el.Raw))
		}
	}
}
