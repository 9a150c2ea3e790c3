package server

import (
	"github.com/xtokend/xtokend/config"

	"errors"
	"net"
	"time"
)

// DefaultStanzaTimeout is limits.stanza_timeout when it is not set.
const DefaultStanzaTimeout = config.DefaultStanzaTimeout

// A stanza that has started must arrive whole within limits.stanza_timeout,
// else the session ends with connection-timeout: otherwise a client could
// hold a session, its buffers and its goroutine's deep stack, for ever by
// sending half an element. Idle sessions have no deadline, and neither has
// the fast path: the read deadline (a runtime timer) is armed only when the
// decoder needs more bytes in the middle of a stanza, that is when a read
// returned part of an element, and cleared when the stanza is whole.
// Whitespace between stanzas (keep-alives) does not start one. Under TLS the
// deadline starts once a record with the stanza's first bytes is decrypted.

// armStanzaDeadline sets the read deadline of the stanza under way.
func (c *countConn) armStanzaDeadline() {
	c.armed = true
	c.Conn.SetReadDeadline(time.Now().Add(c.stanzaTimeout))
}

// noteStanzaTimeout records that a read failed on the stanza's deadline.
func (c *countConn) noteStanzaTimeout(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.timedOut = true
	}
}

// stanzaDone is called by the read loop after each whole stanza.
func (c *countConn) stanzaDone() {
	c.started = false
	if c.armed {
		c.armed = false
		c.Conn.SetReadDeadline(time.Time{})
	}
}

// stanzaTimedOut reports whether the read loop stopped on the deadline.
func (c *countConn) stanzaTimedOut() bool { return c.timedOut }

// stanzaTimeout is limits.stanza_timeout, or its default.
func (s *Server) stanzaTimeout() time.Duration {
	if d := s.cfg.Limits.StanzaTimeout.Duration; d > 0 {
		return d
	}
	return DefaultStanzaTimeout
}
