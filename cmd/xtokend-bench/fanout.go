package main

// The fanout command measures presence broadcast to many subscribers: one user (r0) whose
// roster holds -subscribers mutual subscriptions to the keepers k0 .. kN-1, all of them
// kept online by the command (each bound, its initial presence sent), sends presence
// changes one after the other (<show>away</show>, then available, in turn); each one is
// timed from its send until every keeper's session has received it.
//
// The rosters are the seed command's with one login user whose contacts are all online,
// written as bench/run.sh's stored phase writes them (each server started fresh; Prosody
// and ejabberd with the accounts r0 and k0 .. k999, password bench, i.e.
// PROSODY_USERS="r:1 k:1000 o:0 ..."):
//
//	xtokend-bench seed -format xtokend -admin-socket SOCK -users 1 -online 1000 -contacts 1000
//	xtokend-bench seed -format prosody -dir DATA/localhost -users 1 -online 1000 -contacts 1000
//	xtokend-bench seed -format ejabberd -o FILE.xml -users 1 -online 1000 -contacts 1000  (then import_piefxis)
//
// Then, for each server, with its usual flags (bench/run.sh's $(${who}_flags): -addr,
// -server, -mech, -password or the X-TOKEN key files, -server-pid):
//
//	xtokend-bench fanout $(${who}_flags) -subscribers 1000 -broadcasts 50 -warmup 5 -json "$RESULTS"
//
// It prints one result line with "mode":"fanout": concurrency is the subscribers, ops the
// measured broadcasts, rate the broadcasts per second (one at a time: each waits for all
// its deliveries), p50/p90/p99/max the latency of every delivery (send to receipt), errors
// the deliveries missing after -wait, and the CPU per broadcast of the tool and the server
// (tool_cpu_us_per_op, server_cpu_us_per_op). Plaintext TCP, as the stored phase; -tls and
// -ws work too.

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

func runFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	subscribers := fs.Int("subscribers", 1000, "the contacts k0 .. kN-1 kept online, each subscribed to the user's presence")
	user := fs.String("user", "r0", "the user whose roster holds the subscribers (the seed command's r0)")
	broadcasts := fs.Int("broadcasts", 50, "measured presence changes")
	warmup := fs.Int("warmup", 5, "unmeasured presence changes before them (after the initial presence)")
	wait := fs.Duration("wait", 10*time.Second, "how long one broadcast may take to reach every subscriber")
	loginConc := fs.Int("login-c", 16, "concurrent logins while the subscribers come online")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *subscribers <= 0 || *broadcasts <= 0 || *warmup < 0 || *loginConc <= 0 {
		return usageError("-subscribers, -broadcasts and -login-c must be positive, -warmup not negative")
	}
	t, jsonOut, closeOut, err := c.targetAndOutput(stdout)
	if err != nil {
		return err
	}
	defer closeOut()
	f := &fanout{t: t, n: *subscribers, total: 1 + *warmup + *broadcasts, wait: *wait, userAt: []byte(*user + "@")}
	r, err := f.run(ctx, &c, *user, *warmup, *loginConc)
	if err != nil {
		return err
	}
	r.print(stdout, jsonOut)
	return nil
}

// fanout is one run: broadcast 0 is the user's initial presence, then the warmup ones,
// then the measured ones.
type fanout struct {
	t      *target
	n      int // subscribers
	total  int // broadcasts, all told
	wait   time.Duration
	userAt []byte // "r0@": whose presence the subscribers time

	t0   time.Time
	sent []atomic.Int64 // per broadcast: when it was sent, since t0
	got  []atomic.Int32 // per broadcast: subscribers that received it
	// lat[k*total+b] is subscriber k's latency for broadcast b (0: not received).
	lat  []time.Duration
	done []chan struct{} // per broadcast: closed when every subscriber received it
}

func (f *fanout) run(ctx context.Context, c *common, user string, warmup, loginConc int) (*result, error) {
	f.t0 = time.Now()
	f.sent = make([]atomic.Int64, f.total)
	f.got = make([]atomic.Int32, f.total)
	f.lat = make([]time.Duration, f.n*f.total)
	f.done = make([]chan struct{}, f.total)
	for b := range f.sent {
		f.sent[b].Store(-1)
		f.done[b] = make(chan struct{})
	}

	keepers, err := f.subscribersOnline(ctx, loginConc)
	var readers sync.WaitGroup
	defer func() {
		for _, k := range keepers {
			k.closeNow()
		}
		readers.Wait()
	}()
	if err != nil {
		return nil, err
	}
	for k, s := range keepers {
		readers.Add(1)
		go func() { defer readers.Done(); f.receive(k, s) }()
	}
	time.Sleep(200 * time.Millisecond) // the subscribers' own presence settles

	u, err := newWorker(f.t).login(ctx, user, "fan")
	if err != nil {
		return nil, fmt.Errorf("fanout: login %s: %w", user, err)
	}
	readers.Add(1)
	go func() { // what the user gets (its own presence, its contacts'): drained
		defer readers.Done()
		for {
			if el, err := u.sc.next(); err != nil || el.Kind == kindEnd {
				return
			}
		}
	}()
	defer u.closeNow()

	var out []byte
	broadcast := func(b int) (missing int, err error) {
		out = append(out[:0], "<presence"...)
		out = append(out, f.t.ns...)
		out = append(out, '>')
		if b%2 == 1 {
			out = append(out, "<show>away</show>"...)
		}
		out = append(out, "<status>b"...)
		out = strconv.AppendInt(out, int64(b), 10)
		out = append(out, "</status></presence>"...)
		f.sent[b].Store(int64(time.Since(f.t0)))
		u.conn.SetWriteDeadline(time.Now().Add(f.wait))
		if _, err := u.conn.Write(out); err != nil {
			return 0, fmt.Errorf("fanout: sending broadcast %d: %w", b, err)
		}
		tm := time.NewTimer(f.wait)
		defer tm.Stop()
		select {
		case <-f.done[b]:
			return 0, nil
		case <-tm.C:
			return f.n - int(f.got[b].Load()), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	// The initial presence: every subscriber must get it, or the rosters are not seeded.
	if missing, err := broadcast(0); err != nil {
		return nil, err
	} else if missing > 0 {
		return nil, fmt.Errorf("fanout: %d of %d subscribers did not get %s's initial presence in %v: are the rosters seeded (seed -users 1 -online %d -contacts %d)?",
			missing, f.n, user, f.wait, f.n, f.n)
	}
	for b := 1; b <= warmup; b++ {
		if _, err := broadcast(b); err != nil {
			return nil, err
		}
	}
	r := &result{Server: c.server, Mode: "fanout", Transport: c.transport(), TLS: f.t.useTLS, Concurrency: f.n}
	cpu := startCPU(c.serverPID)
	start := time.Now()
	for b := 1 + warmup; b < f.total; b++ {
		missing, err := broadcast(b)
		if err != nil {
			return nil, err
		}
		if missing > 0 {
			r.Errors += missing
			if r.FirstError == "" {
				r.FirstError = fmt.Sprintf("broadcast %d: %d of %d subscribers did not get it in %v", b, missing, f.n, f.wait)
			}
		}
		r.Ops++
	}
	elapsed := time.Since(start)
	cpu.end()
	r.Seconds = round3(elapsed.Seconds())
	r.Rate = round3(float64(r.Ops) / elapsed.Seconds())
	r.ToolCPUus, r.ServerCPUus = cpu.perOp(r.Ops)
	samples := make([]time.Duration, 0, f.n*r.Ops)
	for k := range f.n {
		for _, d := range f.lat[k*f.total+1+warmup : (k+1)*f.total] {
			if d > 0 {
				samples = append(samples, d)
			}
		}
	}
	r.setLatencies(samples)
	if c.serverPID > 0 {
		r.RSSKB = procRSS(c.serverPID)
	}
	return r, nil
}

// subscribersOnline logs in k0 .. kN-1, loginConc at a time, each sending its initial
// presence.
func (f *fanout) subscribersOnline(ctx context.Context, loginConc int) ([]*session, error) {
	out := make([]*session, f.n)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr atomic.Value
	)
	presence := []byte("<presence" + f.t.ns + "/>")
	for range min(loginConc, f.n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(f.t)
			for {
				k := int(next.Add(1) - 1)
				if k >= f.n || ctx.Err() != nil || firstErr.Load() != nil {
					return
				}
				s, err := w.login(ctx, "k"+strconv.Itoa(k), "keep")
				if err == nil {
					if _, err = s.conn.Write(presence); err != nil {
						s.closeNow()
					}
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("fanout: subscriber k%d: %w", k, err))
					return
				}
				out[k] = s
			}
		}()
	}
	wg.Wait()
	var online []*session
	for _, s := range out {
		if s != nil {
			online = append(online, s)
		}
	}
	if err, ok := firstErr.Load().(error); ok {
		return online, err
	}
	if err := ctx.Err(); err != nil {
		return online, err
	}
	return online, nil
}

// receive reads subscriber k's stream until it ends, timing each of the user's broadcasts
// (numbered in its status) the first time it arrives.
func (f *fanout) receive(k int, s *session) {
	lat := f.lat[k*f.total : (k+1)*f.total]
	for {
		el, err := s.sc.next()
		if err != nil || el.Kind == kindEnd {
			return
		}
		if !el.Is("presence") || !bytes.HasPrefix(attr(el.Raw, "from"), f.userAt) || len(attr(el.Raw, "type")) != 0 {
			continue
		}
		b, ok := broadcastNumber(textOf(el.Raw, "status"))
		if !ok || b >= f.total || lat[b] != 0 {
			continue
		}
		sent := f.sent[b].Load()
		if sent < 0 {
			continue
		}
		lat[b] = max(time.Since(f.t0)-time.Duration(sent), 1)
		if int(f.got[b].Add(1)) == f.n {
			close(f.done[b])
		}
	}
}

// broadcastNumber reads "b<digits>" without allocating.
func broadcastNumber(status []byte) (int, bool) {
	if len(status) < 2 || status[0] != 'b' {
		return 0, false
	}
	n, ok := parseDigits(status[1:])
	return int(n), ok && n < 1<<30
}
