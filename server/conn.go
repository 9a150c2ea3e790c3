package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"mellium.im/xmpp/stream"

	"github.com/xtokend/xtokend/sasl"
)

// conn is one client connection, from accept to close. Negotiation
// runs in the goroutine serve runs on (a pooled one, negotiatorPool) and
// keeps its state here.
type conn struct {
	srv *Server
	t   transport
	ip  string
	// slot is the connection's share of the connection caps.
	slot connSlot

	// Touched only by the connection's own goroutine (negotiation runs in it).
	host       *host
	headerSent bool // the server's header of the current stream is out
	// resumed says sess was resumed (stream management), not bound here.
	// (Beside headerSent: the struct fits 192 bytes.)
	resumed bool
	node    string // the node the X-TOKEN verifier accepted
	// sasl2Failures counts failed SASL2 exchanges (RFC 6120's SASL counts
	// its own): past sasl.DefaultMaxAttempts the stream ends.
	sasl2Failures int

	loggedIn time.Time // when the verifier accepted node (a revocation made after refuses its bind)
	// header replays the client's last stream header for the session's
	// stream reader (replayHeader), which takes it.
	header string
	// scratch is where negotiation builds an answer before the transport
	// writes it: one buffer for all of a login's answers.
	scratch []byte

	// mu guards sess, which Shutdown reads from another goroutine.
	mu   sync.Mutex
	sess *session // set when a resource is bound
}

func newConn(s *Server, t transport) *conn {
	return &conn{srv: s, t: t, ip: t.RemoteIP()}
}

// info and debug log a line about the connection. The "remote" attribute is
// added only when the line is printed: a logger made With it for every
// connection cost ~2% of a login's CPU.
func (c *conn) info(msg string, args ...any)  { c.logAt(slog.LevelInfo, msg, args) }
func (c *conn) debug(msg string, args ...any) { c.logAt(slog.LevelDebug, msg, args) }

func (c *conn) logAt(level slog.Level, msg string, args []any) {
	if !c.logs(level) {
		return
	}
	l := c.srv.logger()
	l.Log(context.Background(), level, msg, append([]any{"remote", c.ip}, args...)...)
}

// logs reports whether a line at level is printed. The lines of every login
// ask it first: their arguments (a JID, a host) are boxed into interfaces
// before info or debug could look at the level, a few allocations per login
// for lines that the usual levels drop.
func (c *conn) logs(level slog.Level) bool {
	return c.srv.logger().Enabled(context.Background(), level)
}

// shutdown is called by Server.Shutdown from another goroutine.
func (c *conn) shutdown() {
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess != nil {
		sess.kill(condSystemShutdown, "server shutting down")
		return
	}
	// Still negotiating: nothing can be written safely from here.
	c.t.Abort()
}

// serve runs the connection: negotiation, then the session's read loop.
func (c *conn) serve() {
	handedOff := false
	defer func() {
		if !handedOff {
			c.t.Abort()
			c.t.DoneReading()
			c.srv.untrack(c)
		}
	}()

	s := c.srv
	// Context deadlines do not stop a blocked read: the conn deadline does.
	c.t.SetDeadline(time.Now().Add(s.negotiationTimeout()))

	d, err := c.negotiate(s.ctx)
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if err == nil && sess == nil {
		err = errors.New("server: negotiation ended without a bound resource")
	}
	if err != nil {
		c.negotiationFailed(err, sess)
		c.t.EndNegotiation()
		return
	}
	// The last answer (bind's result) goes out now; from here on writes are
	// direct, the session's writer may write from its goroutine.
	if err := c.t.EndNegotiation(); err != nil {
		c.negotiationFailed(err, sess)
		return
	}
	c.scratch = nil // negotiation's answers are out; the session never writes here
	c.t.SetDeadline(time.Time{})
	c.t.SetStanzaTimeout(s.stanzaTimeout()) // negotiation's bytes start no stanza
	// The session's read loop goes on here, on this pooled goroutine whose
	// stack has grown already, until its first wait, which is a fresh small
	// goroutine's (session.readOn): this one goes back to the pool then. The
	// decoder of the last stream goes on as the session's stanza reader.
	handedOff = true
	sess.run(c, d)
}

// run is conn as a job of the negotiator pool.
func (c *conn) run() { c.serve() }

// served is the session's read loop's last call on c (no closure held per
// session for it): buffers go back, the connection closes, the server
// forgets it.
func (c *conn) served() {
	c.t.DoneReading()
	c.t.Abort()
	c.srv.untrack(c)
}

// negotiationFailed answers and logs a failed negotiation.
func (c *conn) negotiationFailed(err error, sess *session) {
	switch {
	case sess != nil && c.resumed && sess.smLost(c):
		// Resumed, then the connection broke: detached again.
	case sess != nil:
		// Bound, then something broke: give the JID back.
		c.srv.unbindSession(sess)
		sess.kill("", "negotiation failed")
	}
	var ne net.Error
	var se stream.Error
	var ce *clientError
	var te *tlsError
	timeout := c.srv.writeTimeout()
	switch {
	case c.t.Exceeded():
		c.t.SetWriteDeadline(time.Now().Add(timeout))
		c.endStream(condPolicyViolation, "stanza too large")
		c.info("negotiation failed", "reason", "stanza too large")
	case errors.As(err, &te):
		c.info("negotiation failed", "reason", "TLS handshake", "err", te.err)
	case errors.As(err, &ne) && ne.Timeout():
		// Best effort (a stalled client may not read it). Before the
		// client's header (nothing, or half a header, came) the server's
		// own header goes first, without 'from' as no host was named:
		// RFC 6120 section 4.9.1.2 has the receiving entity send its header
		// and the error when the error comes during stream set-up.
		c.t.SetWriteDeadline(time.Now().Add(time.Second))
		c.endStream(condConnectionTimeout, "negotiation took too long")
		c.info("negotiation failed", "reason", "timeout")
	case errors.As(err, &ce):
		c.t.SetWriteDeadline(time.Now().Add(timeout))
		c.endStream(ce.cond, ce.text)
		if ce.cond != condHostUnknown { // logged when it was found
			c.info("negotiation failed", "condition", ce.cond, "reason", ce.text)
		}
	case errors.Is(err, sasl.ErrTooManyAttempts):
		// The exchange sent the policy-violation.
		c.info("negotiation failed", "condition", condPolicyViolation, "reason", "too many failed logins")
	case errors.As(err, &se):
		// The client's stream error: end ours.
		c.t.SetWriteDeadline(time.Now().Add(time.Second))
		c.endStream("", "")
		c.info("negotiation ended", "reason", "stream error from client", "condition", se.Err)
	case errors.Is(err, io.EOF):
		c.t.SetWriteDeadline(time.Now().Add(time.Second))
		c.endStream("", "") // the client ended its stream: end ours
		c.debug("negotiation ended", "reason", "closed by client")
	case errors.Is(err, errBindRefused):
		c.t.SetWriteDeadline(time.Now().Add(time.Second))
		c.endStream("", "")
		c.info("negotiation ended", "reason", "bind refused")
	case isClosed(err) || errors.Is(err, net.ErrClosed):
		c.debug("negotiation ended", "reason", "connection closed")
	default:
		// Bad XML, text, comments and the like.
		cond := badXMLCondition(err)
		c.t.SetWriteDeadline(time.Now().Add(timeout))
		c.endStream(cond, "")
		c.info("negotiation failed", "condition", cond, "err", err)
	}
}

// saslConfig is the host's X-TOKEN exchange. Hooks.AllowLogin gates every
// attempt that reaches verification, and the failed-login limit
// (limitFailure) answers failures once verified: a refused attempt and a
// failure over the limit are answered like any failed attempt, with
// <failure><temporary-auth-failure/></failure>, and count toward the
// connection's attempts.
func (c *conn) saslConfig() sasl.FeatureConfig {
	h := c.host
	s := c.srv
	cfg := sasl.FeatureConfig{
		Verifier: h.verifier,
		OnResult: c.loginResult,
		// Only the SASL stage runs an exchange, and it exists only where
		// SASL is offered: on a secure stream, or without
		// tls.require_starttls. PLAIN is accepted where saslFeatures lists it.
		Mechanisms:   h.settings.AuthToken.Mechanisms(),
		LimitFailure: c.limitFailure,
	}
	if allow := s.hooks.AllowLogin; allow != nil {
		cfg.Admit = func() *sasl.Error {
			if !allow(c.ip) {
				return errLoginRefused
			}
			return nil
		}
	}
	return cfg
}

// limitFailure charges a verified failure to the per-address and per-user
// failed-login limits; over either, the failure is answered with the
// limit's refusal.
func (c *conn) limitFailure(user string, _ *sasl.Error) *sasl.Error {
	var refusal *sasl.Error
	switch c.srv.ops.limiter.LoginFailed(c.ip, c.host.name, user) {
	case limitedByAddr:
		refusal = errFailuresFromAddr
	case limitedByUser:
		refusal = errFailuresForUser
	default:
		return nil
	}
	if m := c.srv.ops.metrics; m != nil {
		m.OnLimited("login")
	}
	return refusal
}

// The refusals loginResult tells by identity: an attempt Hooks.AllowLogin
// refused, and failures over the failed-login limits.
var (
	errLoginRefused     = &sasl.Error{Condition: sasl.TemporaryAuthFailure, Reason: "login not allowed from this address"}
	errFailuresFromAddr = &sasl.Error{Condition: sasl.TemporaryAuthFailure, Reason: "too many failed logins from this address"}
	errFailuresForUser  = &sasl.Error{Condition: sasl.TemporaryAuthFailure, Reason: "too many failed logins for this user"}
)

// loginResult records and logs one SASL attempt. Never the token.
func (c *conn) loginResult(node string, err error) {
	host := c.host.name
	cond := ""
	if err != nil {
		var se *sasl.Error
		if errors.As(err, &se) && (se == errLoginRefused || se == errFailuresFromAddr || se == errFailuresForUser) {
			cond = string(sasl.TemporaryAuthFailure)
			c.srv.ops.refused.add(c.srv.logger(), "failed-login limit")
			c.debug("login", "host", host, "transport", transportName(c.t), "result", "refused", "reason", se.Reason)
		} else if se != nil {
			cond = string(se.Condition)
			c.info("login", "host", host, "transport", transportName(c.t), "result", "failure", "condition", cond, "reason", se.Reason)
		} else {
			cond = "undefined"
			c.info("login", "host", host, "transport", transportName(c.t), "result", "failure", "err", err)
		}
	} else {
		// The node is logged here; negotiation takes it from Exchange's
		// result, the one place it is delivered.
		// Debug: "session start" follows at info with the full JID.
		if c.logs(slog.LevelDebug) {
			c.debug("login", "host", host, "transport", transportName(c.t), "user", node, "result", "success")
		}
	}
	if f := c.srv.hooks.OnLogin; f != nil {
		f(host, cond, err == nil)
	}
}
