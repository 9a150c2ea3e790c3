package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// idlePool holds bound sessions that do nothing but read, so that any stream the server ends
// (a stream error, a closed connection) is noticed when it happens and counted as lost with
// its reason. At the end every session still open is pinged (XEP-0199) to show that it is
// not only open but still served.
type idlePool struct {
	t        *target
	sessions []*idleSession

	openFailed reasonCounter
	lost       reasonCounter
	lostN      atomic.Int64
	closing    atomic.Bool
	readers    sync.WaitGroup
}

type idleSession struct {
	s    *session
	gone atomic.Bool // ended by the server (counted in lost)

	// The answer to the final ping: answerReason and answerText are written before answer.
	answer                   atomic.Int32
	answerReason, answerText string
}

const (
	answerNone int32 = iota
	answerResult
	answerError
)

// open logs in n sessions (users prefix0..prefixN-1, resource "soak") with workers in
// parallel, sending initial presence when presence is set, and starts their readers.
func (p *idlePool) open(ctx context.Context, n, workers int, prefix string, presence bool) {
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			wk := newWorker(p.t)
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				s, err := wk.login(ctx, prefix+strconv.Itoa(i), "soak")
				if err == nil && presence {
					if _, werr := s.conn.Write(s.stanza([]byte("<presence/>"))); werr != nil {
						s.conn.Close()
						err = fail("presence", werr)
					}
				}
				if err != nil {
					if ctx.Err() == nil {
						p.openFailed.add(failureReason(err), err)
					}
					continue
				}
				is := &idleSession{s: s}
				mu.Lock()
				p.sessions = append(p.sessions, is)
				mu.Unlock()
				p.readers.Go(func() { p.read(is) })
			}
		})
	}
	wg.Wait()
}

// read consumes what the server sends until the stream ends; pongs are counted.
func (p *idlePool) read(is *idleSession) {
	for {
		el, err := is.s.sc.next()
		if err != nil {
			p.markLost(is, errorClass(err), err)
			return
		}
		switch {
		case el.Kind == kindEnd:
			p.markLost(is, "server ended the stream", nil)
			return
		case el.Kind != kindChild:
		case isStreamError(el):
			p.markLost(is, xmppCondition(string(el.Raw)), fmt.Errorf("%.300s", el.Raw))
			return
		case el.Is("iq") && string(attr(el.Raw, "id")) == "soakping":
			if string(attr(el.Raw, "type")) == "result" {
				is.answer.Store(answerResult)
				continue
			}
			is.answerReason = xmppCondition(string(el.Raw))
			if is.answerReason == "" {
				is.answerReason = "answer of type " + string(attr(el.Raw, "type"))
			}
			is.answerText = truncate(string(el.Raw), 300)
			is.answer.Store(answerError)
		}
	}
}

// markLost counts a session the server ended; nothing counts once the tool is closing them.
func (p *idlePool) markLost(is *idleSession, reason string, err error) {
	is.s.conn.Close()
	if p.closing.Load() || is.gone.Swap(true) {
		return
	}
	p.lostN.Add(1)
	p.lost.add(reason, err)
}

// pingResult is what the final pings found.
type pingResult struct {
	Sent       int                    `json:"sent"`
	Answered   int                    `json:"answered"`
	Unanswered map[string]reasonCount `json:"unanswered,omitempty"`
}

var pingIQ = []byte("<iq type='get' id='soakping'><ping xmlns='urn:xmpp:ping'/></iq>")

// ping sends one ping (to the server: no to) on every session still open and waits up to
// wait for the answers. A session ended while its ping is out is both lost and unanswered.
func (p *idlePool) ping(ctx context.Context, wait time.Duration) pingResult {
	var r pingResult
	var unanswered reasonCounter
	var pinged []*idleSession
	for _, is := range p.sessions {
		if is.gone.Load() {
			continue
		}
		r.Sent++
		is.s.conn.SetWriteDeadline(time.Now().Add(wait))
		if _, err := is.s.conn.Write(is.s.stanza(pingIQ)); err != nil {
			unanswered.add("write: "+errorClass(err), err)
			continue
		}
		pinged = append(pinged, is)
	}
	settled := func(is *idleSession) bool { return is.answer.Load() != answerNone || is.gone.Load() }
	for deadline := time.Now().Add(wait); ctx.Err() == nil && time.Now().Before(deadline); {
		pinged = slices.DeleteFunc(pinged, func(is *idleSession) bool {
			if !settled(is) {
				return false
			}
			switch is.answer.Load() {
			case answerResult:
				r.Answered++
			case answerError:
				unanswered.add(is.answerReason, errors.New(is.answerText))
			default:
				unanswered.add("session ended before the answer", nil)
			}
			return true
		})
		if len(pinged) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range pinged {
		unanswered.add(fmt.Sprintf("no answer in %s", wait), nil)
	}
	r.Unanswered = unanswered.snapshot()
	return r
}

// open reports the sessions still open.
func (p *idlePool) openCount() int { return len(p.sessions) - int(p.lostN.Load()) }

// close ends every session politely and waits for the readers.
func (p *idlePool) close() {
	p.closing.Store(true)
	for _, is := range p.sessions {
		is.s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		is.s.conn.Write(is.s.end)
		// A WebSocket's Close would read the server's close frame itself,
		// beside this session's reader: the stream's end was polite enough.
		if ws, ok := is.s.conn.(interface{ closeNow() }); ok {
			ws.closeNow()
		} else {
			is.s.conn.Close()
		}
	}
	p.readers.Wait()
}
