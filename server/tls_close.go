package server

import (
	"crypto/tls"
	"sync"
	"time"
)

// Ending a TLS stream in one write.
//
// A session under TLS ends with the server's </stream:stream> and TLS's
// close_notify alert: two records that crypto/tls writes one at a time, two
// write system calls (and two segments for the client to take in) for every
// STARTTLS login. tlsUnder, the layer between crypto/tls and the TCP
// connection's countConn, holds both back while endTLS writes them and sends
// them in one write. Nothing else changes: the same records, in the same
// order, under the write deadline the writer set.

// tlsUnder is what crypto/tls writes to: the TCP layer, with writes held
// back between hold and release.
type tlsUnder struct {
	*countConn
	mu          sync.Mutex
	holding     bool
	out         []byte
	deadline    time.Time // the last write deadline set while holding
	deadlineSet bool
}

func (u *tlsUnder) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.holding {
		return u.countConn.Write(p)
	}
	u.out = append(u.out, p...)
	return len(p), nil
}

// SetWriteDeadline waits while holding: crypto/tls sets one in the past
// after its close_notify (so that later writes fail), which would fail the
// held write too. It is put in force after that write.
func (u *tlsUnder) SetWriteDeadline(d time.Time) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.holding {
		u.deadline, u.deadlineSet = d, true
		return nil
	}
	return u.countConn.SetWriteDeadline(d)
}

func (u *tlsUnder) hold() {
	u.mu.Lock()
	u.holding = true
	u.out = make([]byte, 0, 128) // a short record and an alert
	u.mu.Unlock()
}

// release writes what was held in one write, then sets the write deadline
// crypto/tls asked for meanwhile.
func (u *tlsUnder) release() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.holding = false
	var err error
	if len(u.out) > 0 {
		_, err = u.countConn.Write(u.out)
		u.out = nil
	}
	if u.deadlineSet {
		u.countConn.SetWriteDeadline(u.deadline)
		u.deadlineSet = false
	}
	return err
}

// endTLS writes last (the stream's end) and close_notify in one write. The
// connection is the writer's alone then (negotiation's coalescing is over);
// Close, after it, sends no second close_notify.
func (t *tcpTransport) endTLS(tc *tls.Conn, last string) error {
	t.under.hold()
	_, err := t.cc.Write([]byte(last))
	if err == nil {
		err = tc.CloseWrite()
	}
	if rerr := t.under.release(); err == nil {
		err = rerr
	}
	return err
}
