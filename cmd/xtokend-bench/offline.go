package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// runOffline measures offline messages: in each of -pairs pairs, sender sI sends -messages
// chat messages to dI, who is offline (the store rate: every message sent, then a ping
// whose answer says the server has handled them all); then every dI logs in, sends initial
// presence and receives them (the deliver rate: from the presence to the last message).
// Two result lines: modes offline-store and offline-deliver, at -pairs.
func runOffline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("offline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	pairs := fs.Int("pairs", 8, "senders s0 .. and offline receivers d0 ..")
	messages := fs.Int("messages", 500, "messages each sender stores for its receiver (xtokend's default cap is 1,000)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pairs <= 0 || *messages <= 0 {
		return usageError("-pairs and -messages must be positive")
	}
	t, jsonOut, closeOut, err := c.targetAndOutput(stdout)
	if err != nil {
		return err
	}
	defer closeOut()

	store := offlinePhase(ctx, t, &c, "offline-store", *pairs, *messages, func(wk *worker, i int) (time.Duration, error) {
		return storeOffline(ctx, wk, t, i, *messages)
	})
	store.print(stdout, jsonOut)
	deliver := offlinePhase(ctx, t, &c, "offline-deliver", *pairs, *messages, func(wk *worker, i int) (time.Duration, error) {
		return deliverOffline(ctx, wk, t, i, *messages)
	})
	deliver.print(stdout, jsonOut)
	return nil
}

// offlinePhase runs one pair's part in each of pairs goroutines at once; each returns how
// long its measured part took. The rate is the messages of the pairs that succeeded over
// the longest time.
func offlinePhase(ctx context.Context, t *target, c *common, mode string, pairs, messages int, one func(*worker, int) (time.Duration, error)) *result {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		took     []time.Duration
		errs     int
		firstErr string
	)
	cpu := startCPU(c.serverPID)
	start := time.Now()
	for i := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := one(newWorker(t), i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if firstErr == "" {
					firstErr = err.Error()
				}
				return
			}
			took = append(took, d)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu.end()
	ops := messages * len(took)
	r := &result{Server: c.server, Mode: mode, Transport: c.transport(), TLS: t.useTLS, Concurrency: pairs,
		Seconds: round3(elapsed.Seconds()), Ops: ops, Errors: errs, FirstError: firstErr}
	if len(took) > 0 {
		r.Rate = round3(float64(ops) / slicesMax(took).Seconds())
	}
	r.ToolCPUus, r.ServerCPUus = cpu.perOp(ops)
	r.setLatencies(took) // the pairs' times: p99 is about the slowest pair
	if c.serverPID > 0 {
		r.RSSKB = procRSS(c.serverPID)
	}
	return r
}

func slicesMax(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds[1:] {
		m = max(m, d)
	}
	return m
}

// storeOffline logs in as sI, sends the messages to dI (offline) in batches and then a
// ping; the time is from the first message to the ping's answer, which comes after the
// server handled every message before it. A bounce fails the pair.
func storeOffline(ctx context.Context, wk *worker, t *target, i, messages int) (time.Duration, error) {
	s, err := wk.login(ctx, "s"+strconv.Itoa(i), "send")
	if err != nil {
		return 0, err
	}
	defer s.close(time.Second)
	to := "d" + strconv.Itoa(i) + "@" + t.host
	s.conn.SetDeadline(time.Now().Add(60 * time.Second))
	start := time.Now()
	out := make([]byte, 0, 16<<10)
	for n := range messages {
		out = append(out, "<message"...)
		out = append(out, t.ns...)
		out = append(out, " type='chat' to='"...)
		out = append(out, to...)
		out = append(out, "' id='o"...)
		out = strconv.AppendInt(out, int64(n), 10)
		out = append(out, "'><body>offline message "...)
		out = strconv.AppendInt(out, int64(n), 10)
		out = append(out, "</body></message>"...)
		if len(out) > 8<<10 || n == messages-1 {
			if n == messages-1 {
				out = append(out, "<iq"...)
				out = append(out, t.ns...)
				out = append(out, " type='get' id='stored' to='"...)
				out = append(out, t.host...)
				out = append(out, "'><ping xmlns='urn:xmpp:ping'/></iq>"...)
			}
			if _, err := s.conn.Write(out); err != nil {
				return 0, fail("send", err)
			}
			out = out[:0]
		}
	}
	for {
		el, err := s.sc.next()
		if err != nil {
			return 0, fail("stored", err)
		}
		switch {
		case el.Kind != kindChild:
			return 0, fail("stored", errors.New("stream ended"))
		case el.Is("message") && string(attr(el.Raw, "type")) == "error":
			return 0, fail("store", fmt.Errorf("bounced: %.300s", el.Raw))
		case el.Is("iq") && string(attr(el.Raw, "id")) == "stored":
			return time.Since(start), nil
		}
	}
}

// deliverOffline logs in as dI, sends initial presence and counts the messages it gets;
// the time is from the presence to the last one.
func deliverOffline(ctx context.Context, wk *worker, t *target, i, messages int) (time.Duration, error) {
	s, err := wk.login(ctx, "d"+strconv.Itoa(i), "read")
	if err != nil {
		return 0, err
	}
	defer s.close(time.Second)
	s.conn.SetDeadline(time.Now().Add(60 * time.Second))
	start := time.Now()
	if _, err := s.conn.Write([]byte("<presence" + t.ns + "/>")); err != nil {
		return 0, fail("presence", err)
	}
	got := 0
	for got < messages {
		el, err := s.sc.next()
		if err != nil {
			return 0, fail("deliver", fmt.Errorf("%w after %d of %d messages", err, got, messages))
		}
		if el.Kind != kindChild {
			return 0, fail("deliver", fmt.Errorf("stream ended after %d of %d messages", got, messages))
		}
		if el.Is("message") && string(attr(el.Raw, "type")) != "error" {
			got++
		}
	}
	return time.Since(start), nil
}
