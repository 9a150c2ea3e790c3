package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// A login is the exchange every real client does: stream header, features, optionally
// STARTTLS and a new stream, SASL (PLAIN or X-TOKEN) with an initial response, a new
// stream, resource binding. The byte strings that do not change are built once.
//
// Over TCP the tool pipelines by default: the first element of each stream (<starttls/>,
// <auth/>, the bind iq) goes in the same write as the stream's header instead of after the
// features, which it checks when they come (XEP-0305 calls this pipelining; every server
// measured handles it). That makes a plaintext login two round trips instead of four, for
// every server alike, and spares each side two writes and two reads per login, which on
// loopback are most of the CPU a login costs. -pipeline=false waits for every answer.
// With -sasl2 a login is one round trip: SASL2 (XEP-0388) with Bind2 (XEP-0386).

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

	// pipeline sends each stream's first element with its header (TCP only: over WebSocket
	// every element is a message of its own, RFC 7395 section 3.3.3).
	pipeline bool
	// sasl2 logs in with SASL2 and binds with Bind2, on one stream.
	sasl2 bool

	header    []byte // the stream header, built once
	end       []byte // the stream's end
	ns        string // what each stanza declares: clientNS over WebSocket
	mechOffer []byte // how the features name the mechanism: >X-TOKEN<
}

func (t *target) init() error {
	t.mechOffer = []byte(">" + t.mech + "<")
	if t.wsURL != "" {
		t.pipeline = false
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

// Namespaces the tool checks the features for.
const (
	nsTLS   = "urn:ietf:params:xml:ns:xmpp-tls"
	nsBind  = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSASL2 = "urn:xmpp:sasl:2"
	nsBind2 = "urn:xmpp:bind:0"
)

var (
	startTLS   = []byte("<starttls xmlns='" + nsTLS + "'/>")
	streamEnd  = []byte("</stream:stream>")
	bindSuffix = []byte("</resource></bind></iq>")
)

// worker holds one goroutine's reusable buffers.
type worker struct {
	t      *target
	minter *minter
	out    []byte // what the next write sends
	resp   []byte // a SASL initial response before base64
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
	end  []byte   // what ends the stream: </stream:stream>, or <close/> over WebSocket
	nw   noWaiter // the TCP connection under conn, when its reads can be made not to wait
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
	s.nw, _ = conn.(noWaiter)
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
	if t.useTLS {
		if err := w.startTLS(s); err != nil {
			return err
		}
	}
	if t.sasl2 {
		if err := w.authenticate2(s, user); err != nil {
			return err
		}
	} else {
		if err := w.auth(s, user); err != nil {
			return err
		}
		if err := w.bind(s, resource); err != nil {
			return err
		}
	}
	conn.SetDeadline(time.Time{})
	return nil
}

// open starts a stream and sends its first element, out[first:] (out[:first] is the stream
// header): when pipelining, in the same write as the header, without waiting for the
// features (the tool knows what the server offers, and checks it when the features come);
// else once the features have come. The features must contain offered, or the step fails.
func (w *worker) open(s *session, out []byte, first int, offered []byte, step string) ([]byte, error) {
	send := out
	if !w.t.pipeline {
		send = out[:first]
	}
	if _, err := s.conn.Write(send); err != nil {
		return nil, fail(step, err)
	}
	el, err := s.sc.next()
	if err != nil {
		return nil, fail(step, err)
	}
	if el.Kind != kindHeader {
		return nil, fail(step, fmt.Errorf("expected a stream header, got %.200s", el.Raw))
	}
	el, err = s.sc.next()
	if err != nil {
		return nil, fail(step, err)
	}
	if el.Kind != kindChild || !el.Is("features") {
		return nil, fail(step, fmt.Errorf("expected features, got %.300s", el.Raw))
	}
	if !bytes.Contains(el.Raw, offered) {
		return nil, fail(step, fmt.Errorf("%s not offered: %.300s", offered, el.Raw))
	}
	if !w.t.pipeline {
		if _, err := s.conn.Write(out[first:]); err != nil {
			return nil, fail(step, err)
		}
	}
	return el.Raw, nil
}

// startTLS negotiates STARTTLS and runs the TLS handshake.
func (w *worker) startTLS(s *session) error {
	t := w.t
	out := append(append(w.out[:0], t.header...), startTLS...)
	w.out = out
	if _, err := w.open(s, out, len(t.header), []byte(nsTLS), "starttls"); err != nil {
		return err
	}
	el, err := s.sc.next()
	if err != nil {
		return fail("starttls", err)
	}
	if !el.Is("proceed") {
		return fail("starttls", fmt.Errorf("server answered %.200s", el.Raw))
	}
	fc := newFlightConn(s.conn)
	tc := tls.Client(fc, t.tlsConf)
	if err := tc.Handshake(); err != nil {
		return fail("tls", err)
	}
	fc.lastFlight() // the Finished goes with the stream header
	s.conn = tc
	if err := s.sc.reset(tc); err != nil {
		return fail("tls", err)
	}
	return nil
}

// credentials returns the SASL initial response for user: authzid (empty) NUL authcid NUL
// token-or-password, base64-encoded onto out.
func (w *worker) credentials(out []byte, user string) ([]byte, error) {
	t := w.t
	var secret []byte
	if t.mech == "X-TOKEN" {
		tok, err := w.minter.token(user, t.host, time.Now(), nil)
		if err != nil {
			return nil, err
		}
		secret = tok
	} else {
		secret = []byte(t.password)
	}
	resp := append(w.resp[:0], 0)
	resp = append(resp, user...)
	resp = append(resp, 0)
	resp = append(resp, secret...)
	w.resp = resp
	return base64.StdEncoding.AppendEncode(out, resp), nil
}

// auth opens the stream, sends <auth/> with the initial response and waits for <success/>.
func (w *worker) auth(s *session, user string) error {
	t := w.t
	out := append(w.out[:0], t.header...)
	out = append(out, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='"...)
	out = append(out, t.mech...)
	out = append(out, "'>"...)
	out, err := w.credentials(out, user)
	if err != nil {
		return fail("sasl", err)
	}
	out = append(out, "</auth>"...)
	w.out = out
	if _, err := w.open(s, out, len(t.header), t.mechOffer, "sasl"); err != nil {
		return err
	}
	if _, err := s.outcome("sasl"); err != nil {
		return err
	}
	// The server restarts the stream after <success/> (RFC 6120 section 6.4.6).
	if err := s.sc.reset(s.conn); err != nil {
		return fail("restart", err)
	}
	return nil
}

// outcome waits for the end of a SASL exchange (RFC 6120's or SASL2's) and returns the
// <success/>, valid until the next read; a <failure/>, a challenge (the tool always sends an
// initial response) or the stream's end fail the step.
func (s *session) outcome(step string) (element, error) {
	for {
		el, err := s.sc.next()
		if err != nil {
			return element{}, fail(step, err)
		}
		switch {
		case el.Kind != kindChild:
			return element{}, fail(step, fmt.Errorf("stream ended: %.200s", el.Raw))
		case el.Is("success"):
			return el, nil
		case el.Is("failure"):
			return element{}, fail(step, fmt.Errorf("failure: %.300s", el.Raw))
		case el.Is("challenge"):
			return element{}, fail(step, fmt.Errorf("unexpected challenge: %.300s", el.Raw))
		}
	}
}

// bind opens the stream after SASL, sends the bind request and waits for its result.
func (w *worker) bind(s *session, resource string) error {
	t := w.t
	out := append(w.out[:0], t.header...)
	out = append(out, "<iq"...)
	out = append(out, t.ns...)
	out = append(out, " type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"...)
	out = append(out, resource...)
	out = append(out, bindSuffix...)
	w.out = out
	if _, err := w.open(s, out, len(t.header), []byte(nsBind), "bind"); err != nil {
		return err
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
		return nil
	}
}

// authenticate2 logs in with SASL2 (XEP-0388) and binds inline with Bind2 (XEP-0386): one
// stream, one exchange, no restart and no bind iq. Bind2 lets the server pick the resource
// (from the tag and, without a user agent id, random characters), so the tool asks for none.
func (w *worker) authenticate2(s *session, user string) error {
	t := w.t
	out := append(w.out[:0], t.header...)
	out = append(out, "<authenticate xmlns='"+nsSASL2+"' mechanism='"...)
	out = append(out, t.mech...)
	out = append(out, "'><initial-response>"...)
	out, err := w.credentials(out, user)
	if err != nil {
		return fail("sasl2", err)
	}
	out = append(out, "</initial-response><bind xmlns='"+nsBind2+"'><tag>bench</tag></bind></authenticate>"...)
	w.out = out
	features, err := w.open(s, out, len(t.header), []byte(nsBind2), "sasl2")
	if err != nil {
		return err
	}
	if i := bytes.Index(features, []byte(nsSASL2)); i < 0 || !bytes.Contains(features[i:], t.mechOffer) {
		return fail("sasl2", fmt.Errorf("%s over SASL2 not offered: %.300s", t.mech, features))
	}
	el, err := s.outcome("sasl2")
	if err != nil {
		return err
	}
	if !bytes.Contains(el.Raw, []byte("<bound")) {
		return fail("sasl2", fmt.Errorf("not bound: %.300s", el.Raw))
	}
	s.jid = bytes.Clone(textOf(el.Raw, "authorization-identifier"))
	if len(s.jid) == 0 || !bytes.Contains(s.jid, []byte("/")) {
		return fail("sasl2", fmt.Errorf("no full jid in %.300s", el.Raw))
	}
	return nil
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
