package server

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"

	"xtokend/sasl"
)

// conn is one client connection, from accept to close. Negotiation state is
// kept here because mellium calls the negotiator's config func again after
// every stream restart.
type conn struct {
	srv *Server
	raw net.Conn
	ip  string
	log *slog.Logger

	// Touched only by the connection's own goroutine (negotiation runs in it).
	cc          *countConn // the outermost counting layer (plaintext)
	tcp         *countConn // the one on the TCP connection (cc without TLS)
	host        *host
	hostUnknown bool
	node        string // the node the X-TOKEN verifier accepted
	refused     bool   // AllowLogin said no to the attempt under way
	header      []byte // the client's last stream header, as it sent it

	// mu guards sess, which Shutdown reads from another goroutine.
	mu   sync.Mutex
	sess *session // set when a resource is bound
}

func newConn(s *Server, raw net.Conn, ip string) *conn {
	return &conn{srv: s, raw: raw, ip: ip, log: s.logger().With("remote", ip)}
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
	c.raw.Close()
}

// serve runs the connection: negotiation, then the session's read loop.
func (c *conn) serve() {
	handedOff := false
	defer func() {
		if !handedOff {
			c.raw.Close()
			c.srv.untrack(c)
		}
	}()

	s := c.srv
	c.cc = newCountConn(c.raw, s.maxStanzaSize())
	c.tcp = c.cc
	c.cc.coalesce()
	// Context deadlines do not stop a blocked read: the conn deadline does.
	c.raw.SetDeadline(time.Now().Add(s.negotiationTimeout()))

	var state xmpp.SessionState
	if !s.cfg.TLS.RequireStartTLS {
		// SASL is only offered on a Secure stream: plaintext by configuration.
		state = xmpp.Secure
	}
	xs, err := xmpp.ReceiveSession(s.ctx, c.cc, state, xmpp.NewNegotiator(c.streamConfig))
	// The last answer (bind's result, a failure) goes out now; from here on
	// writes are direct, the session's writer may write from its goroutine.
	// Outer layer first: under TLS its flush writes into the TCP one.
	if ferr := c.cc.endCoalescing(); err == nil {
		err = ferr
	}
	if ferr := c.tcp.endCoalescing(); err == nil {
		err = ferr
	}
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if err == nil && (xs.State()&xmpp.Authn == 0 || sess == nil) {
		err = errors.New("negotiation ended without a bound resource")
	}
	if err != nil {
		c.negotiationFailed(err, sess)
		return
	}
	c.raw.SetDeadline(time.Time{})
	// The session's read loop gets a goroutine of its own: this one's stack
	// grew deep during negotiation and would stay that size while idle.
	// Nothing below keeps xs: mellium's session (its encoder's buffer, its
	// decoder) is garbage once negotiation is over, and the read loop reads
	// with a decoder of its own (streamreader.go) primed with the client's
	// stream header. Only a header too long to record keeps mellium's reader.
	out := xs.Conn()
	var fallback xml.TokenReader
	if c.header == nil {
		fallback = xs.TokenReader()
	}
	xs = nil
	handedOff = true
	go func() {
		defer c.srv.untrack(c)
		defer c.raw.Close()
		sess.run(out, fallback)
	}()
}

// negotiationFailed answers and logs a failed negotiation.
func (c *conn) negotiationFailed(err error, sess *session) {
	if sess != nil {
		// Bound, then something broke: give the JID back.
		c.srv.unbindSession(sess)
		sess.kill("", "negotiation failed")
	}
	var ne net.Error
	var se stream.Error
	switch {
	case c.hostUnknown:
		// Already answered with host-unknown.
	case c.cc.exceeded():
		writeStreamError(c.cc, condPolicyViolation, "stanza too large", c.srv.writeTimeout())
		c.log.Info("negotiation failed", "reason", "stanza too large")
	case errors.As(err, &ne) && ne.Timeout():
		if c.host != nil {
			// Best effort (a stalled client may not read it), and only once
			// the server's stream header is out.
			writeStreamError(c.cc, condConnectionTimeout, "negotiation took too long", time.Second)
		}
		c.log.Info("negotiation failed", "reason", "timeout")
	case errors.As(err, &se):
		// mellium's verdict (a feature that was not offered, say): tell the client.
		writeStreamError(c.cc, se.Err, "", c.srv.writeTimeout())
		c.log.Info("negotiation failed", "condition", se.Err)
	case errors.Is(err, io.EOF):
		if c.host != nil {
			writeStreamError(c.cc, "", "", time.Second) // the client ended its stream: end ours
		}
		c.log.Debug("negotiation ended", "reason", "closed by client")
	case errors.Is(err, net.ErrClosed):
		c.log.Debug("negotiation ended", "reason", "connection closed")
	default:
		c.log.Info("negotiation failed", "err", err)
	}
}

// streamConfig is the negotiator's config func: it runs after every stream
// header the client sends, when s.LocalAddr() is the stream's 'to'.
func (c *conn) streamConfig(xs *xmpp.Session, _ *xmpp.StreamConfig) xmpp.StreamConfig {
	if xs == nil {
		return xmpp.StreamConfig{} // NewNegotiator's first call
	}
	// Every stream (before TLS, after TLS, after SASL) gets its own budget.
	c.cc.reset()
	// The header just read; the last one is the bound session's.
	c.header = c.cc.takeHeader()
	to := xs.LocalAddr()
	h := c.srv.lookupHost(to.Domainpart())
	if h == nil || to.Localpart() != "" || to.Resourcepart() != "" || (c.host != nil && h != c.host) {
		c.hostUnknown = true
		c.log.Info("host unknown", "to", to.String())
		writeStreamError(xs.Conn(), condHostUnknown, "", time.Second)
		xs.Conn().Close()
		return xmpp.StreamConfig{}
	}
	c.host = h
	return xmpp.StreamConfig{Features: []xmpp.StreamFeature{
		c.startTLS(),
		c.saslFeature(),
		xmpp.BindCustom(c.bind),
	}}
}

// startTLS wraps mellium's STARTTLS so the new TLS connection gets a counting
// layer of its own (the limit counts plaintext).
func (c *conn) startTLS() xmpp.StreamFeature {
	f := xmpp.StartTLS(c.srv.tlsConfigFor(c.host.name))
	inner := f.Negotiate
	f.Negotiate = func(ctx context.Context, xs *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		mask, rw, err := inner(ctx, xs, data)
		if nc, ok := rw.(net.Conn); ok && err == nil {
			c.cc = newCountConn(nc, c.srv.maxStanzaSize())
			c.cc.coalesce()
			rw = c.cc
		}
		return mask, rw, err
	}
	return f
}

// saslFeature is the host's X-TOKEN feature. Hooks.AllowLogin gates every
// attempt that reaches verification: a refused one is answered like any
// failed attempt, with <failure><temporary-auth-failure/></failure>, and
// counts toward the connection's attempts.
func (c *conn) saslFeature() xmpp.StreamFeature {
	h := c.host
	s := c.srv
	f := sasl.Feature(sasl.FeatureConfig{
		Verifier: func() *sasl.Verifier {
			if allow := s.Hooks.AllowLogin; allow != nil && !allow(c.ip) {
				c.refused = true
				return nil // the feature answers temporary-auth-failure
			}
			return h.verifier()
		},
		OnResult: func(node string, err error) { c.loginResult(node, err) },
	})
	inner := f.Negotiate
	f.Negotiate = func(ctx context.Context, xs *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		mask, rw, err := inner(ctx, xs, data)
		if err == nil && rw != nil {
			// The exchange is over (nothing of it was recorded): the next
			// thing the client sends is its new stream header.
			c.cc.recordHeader()
		}
		return mask, rw, err
	}
	return f
}

// loginResult records and logs one SASL attempt. Never the token.
func (c *conn) loginResult(node string, err error) {
	host := c.host.name
	cond := ""
	refused := c.refused
	c.refused = false
	if err != nil {
		var se *sasl.Error
		if refused {
			cond = string(sasl.TemporaryAuthFailure)
			c.log.Info("login", "host", host, "result", "refused", "reason", "too many failed logins from this address")
		} else if errors.As(err, &se) {
			cond = string(se.Condition)
			c.log.Info("login", "host", host, "result", "failure", "condition", cond, "reason", se.Reason)
		} else {
			cond = "undefined"
			c.log.Info("login", "host", host, "result", "failure", "err", err)
		}
	} else {
		c.node = node
		c.srv.loginSucceeded(c.ip) // the limit counts failed logins only
		c.log.Info("login", "host", host, "user", node, "result", "success")
	}
	if f := c.srv.Hooks.OnLogin; f != nil {
		f(host, cond, err == nil)
	}
}

// bind is BindCustom's callback. The JID comes from the node the verifier
// recorded and the stream's host; the client's claimed 'from' is ignored.
func (c *conn) bind(_ jid.JID, resource string) (jid.JID, error) {
	if c.node == "" || c.host == nil {
		return jid.JID{}, stanza.Error{Type: stanza.Auth, Condition: stanza.NotAuthorized}
	}
	if c.srv.closing.Load() {
		return jid.JID{}, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}
	}
	var full jid.JID
	var err error
	if resource != "" {
		full, err = jid.New(c.node, c.host.name, resource)
	}
	if resource == "" || err != nil {
		full, err = jid.New(c.node, c.host.name, randomResource())
		if err != nil {
			return jid.JID{}, stanza.Error{Type: stanza.Cancel, Condition: stanza.InternalServerError}
		}
	}
	sess := newSession(c, full)
	// Registered before the bind result is written: stanzas routed to it in
	// the moment before its writer starts wait in its queue.
	old := c.srv.bindSession(sess)
	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	if old != nil {
		old.kill(condConflict, "replaced by a new session")
	}
	return full, nil
}
