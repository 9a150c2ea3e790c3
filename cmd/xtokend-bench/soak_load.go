package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loginLoad runs logins at a paced rate: a pacer hands out one ticket per 1/rate seconds to a
// fixed pool of workers, so the rate does not depend on the server's latency as long as
// enough workers are free. Up to a second's worth of tickets wait for a worker, so a short
// stall is caught up; a ticket beyond that is counted as behind schedule and dropped, so a
// server that cannot keep up shows as a rate shortfall, not as an ever-growing backlog.
type loginLoad struct {
	t      *target
	prefix string
	users  int

	ok, failed, behind atomic.Int64
	reasons            reasonCounter

	mu  sync.Mutex
	lat []time.Duration
}

// run paces logins at rate per second for duration with the given number of workers; it
// returns when the last login in flight has ended.
func (l *loginLoad) run(ctx context.Context, rate float64, duration time.Duration, workers int) {
	tickets := make(chan struct{}, max(1, int(rate)))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { l.worker(ctx, w, tickets) })
	}
	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	var issued int64
pace:
	for {
		select {
		case <-ctx.Done():
			break pace
		case now := <-tick.C:
			elapsed := now.Sub(start)
			if elapsed >= duration {
				elapsed = duration
			}
			for due := int64(elapsed.Seconds()*rate) - issued; due > 0; due-- {
				issued++
				select {
				case tickets <- struct{}{}:
				default:
					l.behind.Add(1)
				}
			}
			if elapsed >= duration {
				break pace
			}
		}
	}
	tick.Stop()
	close(tickets)
	wg.Wait()
}

func (l *loginLoad) worker(ctx context.Context, w int, tickets <-chan struct{}) {
	wk := newWorker(l.t)
	lat := make([]time.Duration, 0, 1024)
	for seq := 0; ; seq++ {
		if _, ok := <-tickets; !ok {
			break
		}
		user := l.prefix + strconv.Itoa((w+seq*7919)%l.users)
		start := time.Now()
		err := l.once(ctx, wk, user, "s"+strconv.Itoa(w)+"-"+strconv.Itoa(seq))
		if err != nil {
			if ctx.Err() != nil {
				break // stopped: not the server's failure
			}
			l.failed.Add(1)
			l.reasons.add(failureReason(err), err)
			continue
		}
		l.ok.Add(1)
		lat = append(lat, time.Since(start))
	}
	l.mu.Lock()
	l.lat = append(l.lat, lat...)
	l.mu.Unlock()
}

// once is one whole login: connect, authenticate, bind, and close, the close included: a
// server that does not end its side of the stream fails the login.
func (l *loginLoad) once(ctx context.Context, wk *worker, user, resource string) error {
	s, err := wk.login(ctx, user, resource)
	if err != nil {
		return err
	}
	return s.closeChecked(l.t.timeout)
}

// closeChecked ends the stream and waits for the server's end of it.
func (s *session) closeChecked(wait time.Duration) error {
	defer s.conn.Close()
	s.conn.SetDeadline(time.Now().Add(wait))
	if _, err := s.conn.Write(s.end); err != nil {
		return fail("close", err)
	}
	for {
		el, err := s.sc.next()
		if err != nil {
			return fail("close", err)
		}
		switch {
		case el.Kind == kindEnd:
			return nil
		case el.Kind == kindChild && isStreamError(el):
			return fail("close", fmt.Errorf("%.300s", el.Raw))
		}
	}
}

// latencies returns the latencies of the successful logins, sorted.
func (l *loginLoad) latencies() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.lat)
	slices.Sort(out)
	return out
}

// reasonCounter counts failures by reason, keeping the first error text of each as an example.
type reasonCounter struct {
	mu sync.Mutex
	m  map[string]*reasonCount
}

type reasonCount struct {
	Count   int    `json:"count"`
	Example string `json:"example,omitempty"`
}

func (r *reasonCounter) add(reason string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]*reasonCount)
	}
	c := r.m[reason]
	if c == nil {
		c = &reasonCount{}
		if err != nil {
			c.Example = truncate(err.Error(), 300)
		}
		r.m[reason] = c
	}
	c.Count++
}

func (r *reasonCounter) snapshot() map[string]reasonCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]reasonCount, len(r.m))
	for k, v := range r.m {
		out[k] = *v
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// failureReason buckets a failed login: the step it failed at, and what happened there.
func failureReason(err error) string {
	var le *loginError
	if errors.As(err, &le) {
		return le.step + ": " + errorClass(le.err)
	}
	return errorClass(err)
}

// errorClass names an error by its kind (a refused connection, a timeout, an XMPP condition)
// without the details (addresses, ports) that would make each one a bucket of its own.
func errorClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "no free local port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files (this tool)"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	msg := err.Error()
	if c := xmppCondition(msg); c != "" {
		return c
	}
	return truncate(msg, 60)
}

// xmppCondition finds a stream error, SASL failure or stanza error in text and names its
// condition: "stream error conflict", "sasl failure temporary-auth-failure".
func xmppCondition(text string) string {
	for _, k := range []struct{ open, name string }{
		{"<stream:error", "stream error"},
		{"<failure", "sasl failure"},
		{"<error", "stanza error"},
	} {
		i := strings.Index(text, k.open)
		if i < 0 {
			continue
		}
		if c := firstChildName(text[i:]); c != "" {
			return k.name + " " + c
		}
		return k.name
	}
	return ""
}

// firstChildName returns the local name of the first child element of the element that
// starts el, or "" when it has none.
func firstChildName(el string) string {
	end := strings.IndexByte(el, '>')
	if end < 0 || (end > 0 && el[end-1] == '/') {
		return ""
	}
	rest := strings.TrimLeft(el[end+1:], " \t\r\n")
	if len(rest) < 2 || rest[0] != '<' || rest[1] == '/' {
		return ""
	}
	name := rest[1:]
	if n := strings.IndexAny(name, " \t\r\n/>"); n >= 0 {
		name = name[:n]
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// isStreamError reports whether a child of the stream is <stream:error>.
func isStreamError(el element) bool {
	return el.Is("error") && strings.HasPrefix(string(el.Name), "stream:")
}
