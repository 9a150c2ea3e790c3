package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// A login is the exchange every real client does: stream header, features, optionally
// STARTTLS and a new stream, SASL (PLAIN or X-TOKEN) with an initial response, a new
// stream, resource binding. The byte strings that do not change are built once.

// target says where and how to log in.
type target struct {
	addr     string
	host     string
	mech     string // "X-TOKEN" or "PLAIN"
	password string // PLAIN
	keys     *tokenKeys
	useTLS   bool
	tlsConf  *tls.Config
	timeout  time.Duration
	resume   bool // offer TLS session resumption (tickets) from earlier logins
	// sources, when set, are the local addresses connections come from, in turn: on
	// loopback each one has its own ephemeral ports (and its own per-address limits).
	sources    []net.IP
	nextSource atomic.Uint32
	// wsURL, when set, makes every login XMPP over WebSocket (RFC 7395) at that URL.
	wsURL    string
	addrWS   string // the host:port of wsURL
	wsDialer *wsDialer

	header []byte // the stream header, built once
	end    []byte // the stream's end
	ns     string // what each stanza declares: clientNS over WebSocket
}

func (t *target) init() error {
	if t.wsURL != "" {
		return t.initWebSocket()
	}
	t.end = streamEnd
	t.header = []byte("<?xml version='1.0'?><stream:stream to='" + t.host +
		"' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
	if t.useTLS && t.tlsConf == nil {
		t.tlsConf = &tls.Config{
			// A loopback benchmark against a self-signed certificate: nothing to verify.
			InsecureSkipVerify: true,
			ServerName:         t.host,
			// X25519 alone: what Prosody (OpenSSL 3.0) negotiates too, so both servers do
			// the same key exchange, and the tool does not pay for a hybrid ML-KEM share.
			CurvePreferences: []tls.CurveID{tls.X25519},
		}
		if t.resume {
			t.tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(4096)
		}
	}
	return nil
}

var (
	startTLS   = []byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	streamEnd  = []byte("</stream:stream>")
	bindSuffix = []byte("</resource></bind></iq>")
)

// worker holds one goroutine's reusable buffers.
type worker struct {
	t      *target
	minter *minter
	out    []byte
}

func newWorker(t *target) *worker {
	w := &worker{t: t, out: make([]byte, 0, 512)}
	if t.keys != nil {
		w.minter = newMinter(t.keys)
	}
	return w
}

// session is a bound stream.
type session struct {
	conn net.Conn
	ws   *wsConn // conn itself, over WebSocket
	sc   *scanner
	jid  []byte
	end  []byte // what ends the stream: </stream:stream>, or <close/> over WebSocket
}

// loginError says at which step a login failed.
type loginError struct {
	step string
	err  error
}

func (e *loginError) Error() string { return e.step + ": " + e.err.Error() }
func (e *loginError) Unwrap() error { return e.err }

func fail(step string, err error) error { return &loginError{step, err} }

// login opens a session for user with the given resource and returns it bound.
func (w *worker) login(ctx context.Context, user, resource string) (*session, error) {
	t := w.t
	var (
		conn net.Conn
		ws   *wsConn
		err  error
	)
	if t.wsURL != "" {
		if ws, err = t.dialWebSocket(ctx); err == nil {
			conn = ws
		}
	} else {
		conn, err = t.dialTCP(ctx, t.addr)
	}
	if err != nil {
		return nil, fail("dial", err)
	}
	s := &session{conn: conn, ws: ws, sc: newScanner(conn, 2048, 1<<20), end: t.end}
	s.sc.ws = ws != nil
	if err := w.negotiate(s, user, resource); err != nil {
		s.closeNow()
		return nil, err
	}
	return s, nil
}

func (w *worker) negotiate(s *session, user, resource string) error {
	t := w.t
	conn := s.conn
	conn.SetDeadline(time.Now().Add(t.timeout))

	features, err := s.open(t.header)
	if err != nil {
		return fail("stream", err)
	}
	if t.useTLS {
		if !bytes.Contains(features, []byte("urn:ietf:params:xml:ns:xmpp-tls")) {
			return fail("starttls", errors.New("not offered"))
		}
		if _, err := conn.Write(startTLS); err != nil {
			return fail("starttls", err)
		}
		el, err := s.sc.next()
		if err != nil {
			return fail("starttls", err)
		}
		if !el.Is("proceed") {
			return fail("starttls", fmt.Errorf("server answered %.200s", el.Raw))
		}
		fc := newFlightConn(conn)
		tc := tls.Client(fc, t.tlsConf)
		if err := tc.Handshake(); err != nil {
			return fail("tls", err)
		}
		fc.lastFlight() // the Finished goes with the stream header
		s.conn = tc
		if err := s.sc.reset(tc); err != nil {
			return fail("tls", err)
		}
		if features, err = s.open(t.header); err != nil {
			return fail("stream after tls", err)
		}
	}

	// SASL with an initial response.
	if !bytes.Contains(features, []byte(">"+t.mech+"<")) {
		return fail("sasl", fmt.Errorf("%s not offered: %.300s", t.mech, features))
	}
	if err := w.auth(s, user); err != nil {
		return err
	}
	if err := s.sc.reset(s.conn); err != nil {
		return fail("restart", err)
	}
	if features, err = s.open(t.header); err != nil {
		return fail("stream after sasl", err)
	}
	if !bytes.Contains(features, []byte("urn:ietf:params:xml:ns:xmpp-bind")) {
		return fail("bind", fmt.Errorf("not offered: %.300s", features))
	}

	// Bind.
	out := append(w.out[:0], "<iq"...)
	out = append(out, t.ns...)
	out = append(out, " type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"...)
	out = append(out, resource...)
	out = append(out, bindSuffix...)
	w.out = out
	if _, err := s.conn.Write(out); err != nil {
		return fail("bind", err)
	}
	for {
		el, err := s.sc.next()
		if err != nil {
			return fail("bind", err)
		}
		if el.Kind != kindChild {
			return fail("bind", fmt.Errorf("stream ended: %.200s", el.Raw))
		}
		if !el.Is("iq") || string(attr(el.Raw, "id")) != "bind1" {
			continue
		}
		if string(attr(el.Raw, "type")) != "result" {
			return fail("bind", fmt.Errorf("server answered %.300s", el.Raw))
		}
		s.jid = bytes.Clone(textOf(el.Raw, "jid"))
		if len(s.jid) == 0 {
			return fail("bind", fmt.Errorf("no jid in %.300s", el.Raw))
		}
		break
	}
	conn.SetDeadline(time.Time{})
	return nil
}

// open sends a stream header and returns the features the server answers with.
func (s *session) open(header []byte) ([]byte, error) {
	if _, err := s.conn.Write(header); err != nil {
		return nil, err
	}
	el, err := s.sc.next()
	if err != nil {
		return nil, err
	}
	if el.Kind != kindHeader {
		return nil, fmt.Errorf("expected a stream header, got %.200s", el.Raw)
	}
	el, err = s.sc.next()
	if err != nil {
		return nil, err
	}
	if el.Kind != kindChild || !el.Is("features") {
		return nil, fmt.Errorf("expected features, got %.300s", el.Raw)
	}
	return el.Raw, nil
}

// auth sends <auth/> with the initial response and waits for <success/>.
func (w *worker) auth(s *session, user string) error {
	t := w.t
	var secret []byte
	if t.mech == "X-TOKEN" {
		tok, err := w.minter.token(user, t.host, time.Now(), nil)
		if err != nil {
			return fail("sasl", err)
		}
		secret = tok
	} else {
		secret = []byte(t.password)
	}
	// authzid (empty) NUL authcid NUL token-or-password
	resp := make([]byte, 0, 2+len(user)+len(secret))
	resp = append(resp, 0)
	resp = append(resp, user...)
	resp = append(resp, 0)
	resp = append(resp, secret...)

	out := append(w.out[:0], "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='"...)
	out = append(out, t.mech...)
	out = append(out, "'>"...)
	out = base64.StdEncoding.AppendEncode(out, resp)
	out = append(out, "</auth>"...)
	w.out = out
	if _, err := s.conn.Write(out); err != nil {
		return fail("sasl", err)
	}
	for {
		el, err := s.sc.next()
		if err != nil {
			return fail("sasl", err)
		}
		switch {
		case el.Kind != kindChild:
			return fail("sasl", fmt.Errorf("stream ended: %.200s", el.Raw))
		case el.Is("success"):
			return nil
		case el.Is("failure"):
			return fail("sasl", fmt.Errorf("failure: %.300s", el.Raw))
		case el.Is("challenge"):
			return fail("sasl", fmt.Errorf("unexpected challenge: %.300s", el.Raw))
		}
	}
}

// close ends the stream and waits briefly for the server's end, so that the server, not
// the tool, holds the closed socket's TIME_WAIT.
func (s *session) close(wait time.Duration) {
	s.conn.SetDeadline(time.Now().Add(wait))
	if _, err := s.conn.Write(s.end); err == nil {
		for {
			el, err := s.sc.next()
			if err != nil || el.Kind == kindEnd {
				break
			}
		}
	}
	s.conn.Close()
}

// resourceName builds "prefix<n>".
func resourceName(prefix string, n int) string {
	return prefix + strconv.Itoa(n)
}
