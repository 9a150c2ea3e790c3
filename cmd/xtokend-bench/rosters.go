package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// runRosters measures logins as a roster client does them, on rosters the seed command
// wrote (see rosterPlan): log in, get the roster, send initial presence, and wait for the
// presence of every online contact. The online contacts are sessions this command keeps
// open for the whole run, each with its own initial presence sent, draining what the
// logins send them.
func runRosters(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rosters", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c common
		p rosterPlan
	)
	c.register(fs)
	p.register(fs)
	levels := fs.String("c", "1,8,32", "concurrency levels (comma-separated)")
	duration := fs.Duration("duration", 5*time.Second, "measured time per level")
	warmup := fs.Duration("warmup", time.Second, "unmeasured time before each level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	conc, err := parseInts(*levels)
	if err != nil {
		return err
	}
	t, jsonOut, closeOut, err := c.targetAndOutput(stdout)
	if err != nil {
		return err
	}
	defer closeOut()
	keepers, err := keepOnline(ctx, t, p.online)
	defer func() {
		for _, k := range keepers {
			k.closeNow() // their drains hold the scanners: no polite close
		}
	}()
	if err != nil {
		return err
	}
	steps := &loginSteps{
		mode: "roster-logins",
		// Worker w logs in as the users w, w+workers, ... in turn, so that no two logins
		// of one user overlap (each would receive the other's presence).
		user: func(w, workers, seq int) string {
			per := max(1, (p.users-w+workers-1)/workers)
			return "r" + strconv.Itoa(w+workers*(seq%per))
		},
		after: func(s *session) error { return rosterAndPresence(s, t.ns, p.contacts, p.online) },
	}
	for _, n := range conc {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n > p.users {
			return usageError(fmt.Sprintf("-c %d is more than -users %d: two logins of one user would overlap", n, p.users))
		}
		r := measureLogins(ctx, t, &c, n, p.users, *warmup, *duration, steps)
		r.print(stdout, jsonOut)
	}
	return nil
}

var rosterGet = []byte(`<iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>`)

// rosterAndPresence gets the roster (which must hold at least items items), sends initial
// presence and waits until available presence came from online distinct contacts (k...).
func rosterAndPresence(s *session, ns string, items, online int) error {
	s.conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer s.conn.SetDeadline(time.Time{})
	req := make([]byte, 0, 128)
	if ns == "" {
		req = append(req, rosterGet...)
		req = append(req, "<presence/>"...)
	} else { // over WebSocket every stanza declares its namespace
		req = append(req, bytes.Replace(rosterGet, []byte("<iq"), []byte("<iq"+ns), 1)...)
		req = append(req, "<presence"+ns+"/>"...)
	}
	if _, err := s.conn.Write(req); err != nil {
		return fail("roster", err)
	}
	gotRoster := false
	seen := make(map[string]bool, online)
	for !gotRoster || len(seen) < online {
		el, err := s.sc.next()
		if err != nil {
			return fail("presence", fmt.Errorf("%w (roster %v, %d of %d contacts' presence)", err, gotRoster, len(seen), online))
		}
		if el.Kind != kindChild {
			return fail("roster", fmt.Errorf("stream ended: %.200s", el.Raw))
		}
		switch {
		case el.Is("iq") && string(attr(el.Raw, "id")) == "roster1":
			if string(attr(el.Raw, "type")) != "result" {
				return fail("roster", fmt.Errorf("server answered %.300s", el.Raw))
			}
			if n := bytes.Count(el.Raw, []byte("<item ")); n < items {
				return fail("roster", fmt.Errorf("%d items, not %d: are the rosters seeded?", n, items))
			}
			gotRoster = true
		case el.Is("presence"):
			from := attr(el.Raw, "from")
			if len(attr(el.Raw, "type")) == 0 && bytes.HasPrefix(from, []byte("k")) {
				if i := bytes.IndexByte(from, '/'); i >= 0 {
					from = from[:i]
				}
				seen[string(from)] = true
			}
		}
	}
	return nil
}

// keepOnline logs in k0 .. kN-1, each sending initial presence, and drains each of them in
// the background until it is closed.
func keepOnline(ctx context.Context, t *target, n int) ([]*session, error) {
	var (
		mu   sync.Mutex
		out  []*session
		errs []error
		wg   sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := newWorker(t).login(ctx, "k"+strconv.Itoa(i), "keep")
			if err == nil {
				presence := "<presence/>"
				if t.ns != "" {
					presence = "<presence" + t.ns + "/>"
				}
				_, err = s.conn.Write([]byte(presence))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("keeper k%d: %w", i, err))
				return
			}
			out = append(out, s)
			go func() {
				for {
					if el, err := s.sc.next(); err != nil || el.Kind == kindEnd {
						return
					}
				}
			}()
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return out, errs[0]
	}
	time.Sleep(200 * time.Millisecond) // their presence settles before the first login
	return out, nil
}
