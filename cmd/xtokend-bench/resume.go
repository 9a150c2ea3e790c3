package main

// The resume command measures reconnecting by stream-management resumption (XEP-0198): what a
// phone does when its network comes back. Each of -c workers logs in once, binds and enables
// resumable stream management (<enable resume='true'/>, <enabled id=.../>); then, again and
// again, it drops its TCP connection without ending the stream (as a lost network does, save
// that the server sees the close at once), connects anew, opens a stream (STARTTLS with -tls),
// authenticates again (XEP-0198 resumes only an authenticated user's session: X-TOKEN for
// xtokend, PLAIN for a peer) and sends <resume previd=ID h=N/> in place of a bind. One
// resumption is one operation, timed from the connect to <resumed/>.
//
// A server that does not yet know the old connection is gone may take it over (xtokend,
// Prosody's mod_smacks and ejabberd's mod_stream_mgmt all do) or answer <failed/>: that is
// an error (errors, first_error), and the worker logs in and enables stream management
// again, unmeasured, before its next resumption.
//
//	xtokend-bench resume $(${who}_flags) [-tls] -c 1,8 -duration 5s -warmup 1s -json "$RESULTS"
//
// One result line per concurrency with "mode":"resume", as the logins mode writes them.

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

const nsSM = "urn:xmpp:sm:3"

func runResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	levels := fs.String("c", "1,8", "concurrency levels (comma-separated): workers, each with its own user and session")
	duration := fs.Duration("duration", 5*time.Second, "measured time per level")
	warmup := fs.Duration("warmup", time.Second, "unmeasured time before each level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conc, err := parseInts(*levels)
	if err != nil {
		return err
	}
	if c.wsURL != "" || c.sasl2 {
		return usageError("resume: TCP with RFC 6120's SASL only (no -ws, no -sasl2)")
	}
	return c.perLevel(ctx, stdout, conc, func(t *target, n int) (*result, error) {
		return measureResumes(ctx, t, &c, n, *warmup, *duration)
	})
}

// smWorker is one worker's resumable session: the connection it is on now, the session's id
// and how many stanzas the worker has handled (XEP-0198's h, counted across connections).
type smWorker struct {
	w        *worker
	user     string
	resource string
	s        *session
	id       []byte
	h        uint32
}

// start logs in, binds and enables resumable stream management.
func (m *smWorker) start(ctx context.Context) error {
	s, err := m.w.login(ctx, m.user, m.resource)
	if err != nil {
		return err
	}
	id, err := enableSM(s, m.w.t.timeout)
	if err != nil {
		s.closeNow()
		return err
	}
	m.s, m.id, m.h = s, id, 0
	return nil
}

// drop closes the TCP connection under the session without a stream end (and, over TLS,
// without a close_notify): the server sees the connection gone, not the session ended.
func (m *smWorker) drop() {
	if m.s == nil {
		return
	}
	if tc, ok := m.s.conn.(*tls.Conn); ok {
		tc.NetConn().Close()
	} else {
		m.s.conn.Close()
	}
	m.s = nil
}

// resume is one operation: connect, (STARTTLS,) SASL, a new stream with <resume/>, and the
// wait for <resumed/>.
func (m *smWorker) resume(ctx context.Context) error {
	w, t := m.w, m.w.t
	conn, err := t.dialTCP(ctx, t.addr)
	if err != nil {
		return fail("dial", err)
	}
	s := &session{conn: conn, sc: newScanner(conn, 2048, 1<<20), end: t.end}
	m.s = s
	conn.SetDeadline(time.Now().Add(t.timeout))
	if t.useTLS {
		if err := w.startTLS(s); err != nil {
			return err
		}
	}
	if err := w.auth(s, m.user); err != nil {
		return err
	}
	out := append(w.out[:0], t.header...)
	out = append(out, "<resume xmlns='"+nsSM+"' h='"...)
	out = strconv.AppendUint(out, uint64(m.h), 10)
	out = append(out, "' previd='"...)
	out = append(out, m.id...)
	out = append(out, "'/>"...)
	w.out = out
	if _, err := w.open(s, out, len(t.header), []byte(nsSM), "resume"); err != nil {
		return err
	}
	for {
		el, err := s.sc.next()
		if err != nil {
			return fail("resume", err)
		}
		switch {
		case el.Kind != kindChild:
			return fail("resume", fmt.Errorf("stream ended: %.200s", el.Raw))
		case el.Is("resumed"):
			if !bytes.Equal(attr(el.Raw, "previd"), m.id) {
				return fail("resume", fmt.Errorf("resumed another session: %.300s", el.Raw))
			}
			s.conn.SetDeadline(time.Time{})
			return nil
		case el.Is("failed"):
			return fail("resume", fmt.Errorf("server answered %.300s", el.Raw))
		default:
			if err := m.handle(el); err != nil {
				return fail("resume", err)
			}
		}
	}
}

// handle counts a stanza the server sent and answers an ack request with the count.
func (m *smWorker) handle(el element) error {
	switch {
	case el.Is("message") || el.Is("presence") || el.Is("iq"):
		m.h++
	case el.Is("r") && bytes.Contains(el.Raw, []byte(nsSM)):
		a := append([]byte("<a xmlns='"+nsSM+"' h='"), strconv.FormatUint(uint64(m.h), 10)...)
		if _, err := m.s.conn.Write(append(a, "'/>"...)); err != nil {
			return err
		}
	}
	return nil
}

// measureResumes runs resumptions at one concurrency. Worker w resumes the session of user
// prefix+w; a worker that cannot start its session at all fails the run.
func measureResumes(ctx context.Context, t *target, c *common, workers int, warmup, duration time.Duration) (*result, error) {
	ms := make([]*smWorker, workers)
	for i := range ms {
		ms[i] = &smWorker{w: newWorker(t), user: c.userPrefix + strconv.Itoa(i), resource: "sm" + strconv.Itoa(i)}
		if err := ms[i].start(ctx); err != nil {
			for _, m := range ms[:i] {
				m.drop()
			}
			return nil, fmt.Errorf("resume: the session of %s: %w", ms[i].user, err)
		}
	}
	var (
		win measureWindow
		wg  sync.WaitGroup
		all tally
	)
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := newWorkerTally()
			defer all.add(&mine)
			for !win.stopped() && ctx.Err() == nil {
				m.drop()
				start := time.Now()
				err := m.resume(ctx)
				lat := time.Since(start)
				counted := win.counted()
				if err != nil {
					if counted {
						mine.fail(err)
					}
					m.drop()
					time.Sleep(10 * time.Millisecond) // do not spin on a refusing server
					// A new session to resume next time (the old one may be gone).
					if err := m.start(ctx); err != nil && counted {
						mine.errs++
					}
					continue
				}
				if counted {
					mine.ok(lat)
				}
			}
		}()
	}
	elapsed, cpu := win.run(ctx, warmup, duration, c.serverPID)
	wg.Wait()
	// The sessions end politely, so that the server does not hold them for its resumption timeout.
	for _, m := range ms {
		if m.s != nil {
			m.s.close(time.Second)
			m.s = nil
		}
	}

	return all.result(c, t, "resume", workers, elapsed, cpu), nil
}
