package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runMessages logs in -pairs pairs of sessions; in each pair -window messages bounce: each
// side answers every message it receives with a new one to the other side. Every delivery
// counts, and its latency is the time from the send to its receipt (the send time travels
// in the message's id). Messages go to the peer's full JID, so no presence is needed.
func runMessages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("messages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	pairLevels := fs.String("pairs", "1,16,64", "numbers of session pairs (comma-separated)")
	window := fs.Int("window", 1, "messages in flight per pair")
	duration := fs.Duration("duration", 5*time.Second, "measured time per level")
	warmup := fs.Duration("warmup", time.Second, "unmeasured time before each level")
	body := fs.Int("body", 64, "body size in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	levels, err := parseInts(*pairLevels)
	if err != nil {
		return err
	}
	if *window <= 0 || *body < 0 {
		return usageError("-window must be positive and -body not negative")
	}
	return c.perLevel(ctx, stdout, levels, func(t *target, pairs int) (*result, error) {
		return measureMessages(ctx, t, &c, pairs, *window, *body, *warmup, *duration)
	})
}

// peer is one side of a pair.
type peer struct {
	s       *session
	to      []byte // the other side's full JID
	out     []byte
	samples []time.Duration
	ops     int
}

func measureMessages(ctx context.Context, t *target, c *common, pairs, window, bodySize int, warmup, duration time.Duration) (*result, error) {
	peers := make([]*peer, 2*pairs)
	wk := newWorker(t)
	for i := range peers {
		s, err := wk.login(ctx, c.userPrefix+"m"+strconv.Itoa(i), "msg")
		if err != nil {
			for _, p := range peers[:i] {
				p.s.close(time.Second)
			}
			return nil, fmt.Errorf("messages: login %d: %w", i, err)
		}
		peers[i] = &peer{s: s, out: make([]byte, 0, 256+bodySize)}
	}
	for i := 0; i < len(peers); i += 2 {
		peers[i].to, peers[i+1].to = peers[i+1].s.jid, peers[i].s.jid
	}
	body := make([]byte, bodySize)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}

	var (
		win      measureWindow
		wg       sync.WaitGroup
		errs     atomic.Int64
		firstErr atomic.Value
	)
	t0 := time.Now()
	send := func(p *peer) error {
		out := append(p.out[:0], "<message"...)
		out = append(out, t.ns...)
		out = append(out, " type='chat' to='"...)
		out = append(out, p.to...)
		out = append(out, "' id='m"...)
		out = strconv.AppendInt(out, int64(time.Since(t0)), 10)
		out = append(out, "'><body>"...)
		out = append(out, body...)
		out = append(out, "</body></message>"...)
		p.out = out
		_, err := p.s.conn.Write(out)
		return err
	}
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 { // the first side of each pair starts the window
				for range window {
					if err := send(p); err != nil {
						return
					}
				}
			}
			for {
				el, err := p.s.sc.next()
				if err != nil {
					if !win.stopped() {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					return
				}
				if el.Kind == kindEnd {
					return
				}
				if !el.Is("message") {
					continue
				}
				if string(attr(el.Raw, "type")) == "error" {
					if win.stopped() {
						continue // a bounce from a peer that has already closed
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%.300s", el.Raw))
					continue
				}
				id := attr(el.Raw, "id")
				if len(id) > 1 && win.counted() {
					if sent, ok := parseDigits(id[1:]); ok {
						p.samples = append(p.samples, time.Since(t0)-time.Duration(sent))
						p.ops++
					}
				}
				if win.stopped() {
					continue // drain until the stream ends
				}
				if err := send(p); err != nil {
					return
				}
			}
		}()
	}
	elapsed, cpu := win.run(ctx, warmup, duration, c.serverPID)
	for _, p := range peers {
		p.s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		p.s.conn.Write(p.s.end)
		p.s.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	}
	wg.Wait()
	for _, p := range peers {
		p.s.conn.Close()
	}

	r := &result{Server: c.server, Mode: "messages", Transport: c.transport(), TLS: t.useTLS, Concurrency: pairs, Window: window, Seconds: round3(elapsed.Seconds())}
	var all []time.Duration
	for _, p := range peers {
		r.Ops += p.ops
		all = append(all, p.samples...)
	}
	r.Errors = int(errs.Load())
	if v, ok := firstErr.Load().(string); ok {
		r.FirstError = v
	}
	r.Rate = round3(float64(r.Ops) / elapsed.Seconds())
	r.ToolCPUus, r.ServerCPUus = cpu.perOp(r.Ops)
	r.setLatencies(all)
	if c.serverPID > 0 {
		r.RSSKB = procRSS(c.serverPID)
	}
	return r, nil
}

// parseDigits reads a decimal number without allocating (strconv wants a string).
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
