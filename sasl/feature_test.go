package sasl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"
)

// featureNow is the clock of the feature tests: tokens are minted for it.
var featureNow = time.Unix(1_800_000_000, 0)

// result is one OnResult call.
type result struct {
	node string
	cond Condition
}

// testServer is the receiving side of one connection, negotiating with
// Feature over a real mellium session.
type testServer struct {
	mu      sync.Mutex
	results []result
	done    chan error // ReceiveSession's error
}

func (s *testServer) Results() []result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]result(nil), s.results...)
}

// startServer serves conn with the feature as configured by default
// (X-TOKEN only).
func startServer(t *testing.T, conn net.Conn, v *Verifier) *testServer {
	t.Helper()
	return startServerWith(t, conn, v, nil)
}

// startServerWith is startServer with the feature's mechanisms set.
func startServerWith(t *testing.T, conn net.Conn, v *Verifier, mechs []string) *testServer {
	t.Helper()
	srv := &testServer{done: make(chan error, 1)}
	cfg := FeatureConfig{
		Verifier:   func() *Verifier { return v },
		Now:        func() time.Time { return featureNow },
		Mechanisms: mechs,
		OnResult: func(node string, err error) {
			srv.mu.Lock()
			srv.results = append(srv.results, result{node, cond(err)})
			srv.mu.Unlock()
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	go func() {
		neg := xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: []xmpp.StreamFeature{Feature(cfg), xmpp.BindResource()}}
		})
		s, err := xmpp.ReceiveSession(ctx, conn, xmpp.Secure, neg)
		if err == nil && s.State()&xmpp.Authn == 0 {
			err = errors.New("session ready but not authenticated")
		}
		srv.done <- err
		conn.Close()
	}()
	return srv
}

func (s *testServer) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("server negotiation did not end")
		return nil
	}
}

// rawClient speaks XML by hand, to send what no library would.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	mu   sync.Mutex
	buf  bytes.Buffer
	seen int // bytes of buf already matched
	more chan struct{}
}

func newRawClient(t *testing.T, conn net.Conn) *rawClient {
	c := &rawClient{t: t, conn: conn, more: make(chan struct{}, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := conn.Read(b)
			c.mu.Lock()
			c.buf.Write(b[:n])
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
			if err != nil {
				close(c.more)
				return
			}
		}
	}()
	return c
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// expect waits until the server has written want after what was matched so far.
func (c *rawClient) expect(want string) {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got := c.buf.String()[c.seen:]
		if i := strings.Index(got, want); i >= 0 {
			c.seen += i + len(want)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		select {
		case _, ok := <-c.more:
			if !ok {
				c.mu.Lock()
				got = c.buf.String()[c.seen:]
				c.mu.Unlock()
				if !strings.Contains(got, want) {
					c.t.Fatalf("connection closed; want %q, got %q", want, got)
				}
			}
		case <-deadline:
			c.t.Fatalf("timed out waiting for %q; got %q", want, got)
		}
	}
}

const streamHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`

func auth(mech, payload string) string {
	return `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='` + mech + `'>` + payload + `</auth>`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func failure(c Condition) string {
	return `<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><` + string(c) + `></` + string(c) + `></failure>`
}

const (
	success             = `<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"></success>`
	challenge           = `<challenge xmlns="urn:ietf:params:xml:ns:xmpp-sasl"></challenge>`
	wirePolicyViolation = `<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></stream:stream>`
)

func TestFeatureWire(t *testing.T) {
	replay := NewReplayCache(1000)
	v := newTestVerifier(t, "localhost", DefaultOptions(), replay)
	fresh := func() string { return "\x00alice\x00" + mint(t, v, "alice", featureNow) }
	used := fresh()
	if _, err := v.Verify(context.Background(), []byte(used), featureNow); err != nil {
		t.Fatal(err)
	}
	full := NewReplayCache(1)
	vFull := newTestVerifier(t, "localhost", DefaultOptions(), full)
	if _, err := vFull.Verify(context.Background(), []byte("\x00bob\x00"+mint(t, vFull, "bob", featureNow)), featureNow); err != nil {
		t.Fatal(err)
	}

	type step struct{ send, expect string }
	tests := []struct {
		name    string
		v       *Verifier
		steps   []step
		results []result
		err     error // of ReceiveSession; nil: any error but ErrTooManyAttempts
	}{
		{"success", v, []step{{auth("X-TOKEN", b64(fresh())), success}}, []result{{"alice", ""}}, nil},
		{"unknown mechanism", v, []step{{auth("PLAIN", b64(fresh())), failure(InvalidMechanism)}}, []result{{"", InvalidMechanism}}, nil},
		{"bad base64", v, []step{{auth("X-TOKEN", "!!notbase64"), failure(IncorrectEncoding)}}, []result{{"", IncorrectEncoding}}, nil},
		{"two fields", v, []step{{auth("X-TOKEN", b64("alice\x00"+mint(t, v, "alice", featureNow))), failure(MalformedRequest)}}, []result{{"", MalformedRequest}}, nil},
		{"invalid authzid", v, []step{{auth("X-TOKEN", b64("bob@localhost"+fresh())), failure(InvalidAuthzid)}}, []result{{"", InvalidAuthzid}}, nil},
		{"wrong user", v, []step{{auth("X-TOKEN", b64("\x00bob"+fresh()[6:])), failure(NotAuthorized)}}, []result{{"", NotAuthorized}}, nil},
		{"replay", v, []step{{auth("X-TOKEN", b64(used)), failure(NotAuthorized)}}, []result{{"", NotAuthorized}}, nil},
		{"replay cache full", vFull, []step{{auth("X-TOKEN", b64(fresh())), failure(TemporaryAuthFailure)}}, []result{{"", TemporaryAuthFailure}}, nil},
		{"no verifier", nil, []step{{auth("X-TOKEN", b64(fresh())), failure(TemporaryAuthFailure)}}, []result{{"", TemporaryAuthFailure}}, nil},
		{"oversized payload", v, []step{{auth("X-TOKEN", strings.Repeat("A", 8000)), failure(MalformedRequest)}}, []result{{"", MalformedRequest}}, nil},
		{"element in auth", v, []step{{auth("X-TOKEN", "<x/>"), failure(MalformedRequest)}}, []result{{"", MalformedRequest}}, nil},
		{"abort", v, []step{{`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, failure(Aborted)}}, []result{{"", Aborted}}, nil},
		{"stray response", v, []step{{`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + b64(fresh()) + `</response>`, failure(MalformedRequest)}}, []result{{"", MalformedRequest}}, nil},
		{"equals sign, then the response", v, []step{
			{auth("X-TOKEN", "="), challenge},
			{`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + b64(fresh()) + `</response>`, success},
		}, []result{{"alice", ""}}, nil},
		{"empty auth, then an empty response", v, []step{
			{auth("X-TOKEN", ""), challenge},
			{`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, failure(MalformedRequest)},
		}, []result{{"", MalformedRequest}}, nil},
		{"empty auth, then abort", v, []step{
			{auth("X-TOKEN", ""), challenge},
			{`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, failure(Aborted)},
		}, []result{{"", Aborted}}, nil},
		{"retry then success", v, []step{
			{auth("X-TOKEN", b64(used)), failure(NotAuthorized)},
			{"\n  " + auth("X-TOKEN", "%%%"), failure(IncorrectEncoding)},
			{auth("X-TOKEN", b64(fresh())), success},
		}, []result{{"", NotAuthorized}, {"", IncorrectEncoding}, {"alice", ""}}, nil},
		{"fourth attempt", v, []step{
			{auth("X-TOKEN", b64(used)), failure(NotAuthorized)},
			{auth("X-TOKEN", b64(used)), failure(NotAuthorized)},
			{auth("X-TOKEN", b64(used)), failure(NotAuthorized)},
			{auth("X-TOKEN", b64(fresh())), wirePolicyViolation},
		}, []result{{"", NotAuthorized}, {"", NotAuthorized}, {"", NotAuthorized}}, ErrTooManyAttempts},
		// An element outside SASL before any <auth/> is mellium's to refuse
		// (it ends negotiation with a policy-violation error); once the
		// feature runs it answers malformed-request.
		{"unexpected element", v, []step{
			{auth("X-TOKEN", b64(used)), failure(NotAuthorized)},
			{`<message xmlns='jabber:client'><body>hi</body></message>`, failure(MalformedRequest)},
		}, []result{{"", NotAuthorized}, {"", MalformedRequest}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, ss := net.Pipe()
			defer cs.Close()
			srv := startServer(t, ss, tc.v)
			c := newRawClient(t, cs)
			c.send(streamHeader)
			c.expect(`<mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>X-TOKEN</mechanism></mechanisms>`)
			c.expect(`</stream:features>`)
			for _, s := range tc.steps {
				c.send(s.send)
				c.expect(s.expect)
			}
			if tc.err == nil {
				cs.Close()
			}
			err := srv.wait(t)
			switch {
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Errorf("ReceiveSession: %v, want %v", err, tc.err)
			case tc.err == nil && errors.Is(err, ErrTooManyAttempts):
				t.Errorf("ReceiveSession: %v", err)
			}
			if got := srv.Results(); !equalResults(got, tc.results) {
				t.Errorf("OnResult calls %v, want %v", got, tc.results)
			}
		})
	}
}

func equalResults(a, b []result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFeatureMelliumClient logs in with mellium's own client and ClientMechanism.
func TestFeatureMelliumClient(t *testing.T) {
	v := newTestVerifier(t, "localhost", DefaultOptions(), NewReplayCache(10))
	tok := mint(t, v, "alice", featureNow)
	tests := []struct {
		name     string
		authzid  string
		username string
		token    string
		node     string
		cond     Condition
	}{
		{"success", "", "Alice", tok, "alice", ""},
		{"replay", "alice@localhost", "alice", tok, "", NotAuthorized},
		{"authzid", "bob@localhost", "alice", mint(t, v, "alice", featureNow), "", InvalidAuthzid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, ss := net.Pipe()
			defer cs.Close()
			srv := startServer(t, ss, v)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			neg := xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
				return xmpp.StreamConfig{Features: []xmpp.StreamFeature{
					xmpp.SASL("", "", ClientMechanism(tc.authzid, tc.username, tc.token)),
					xmpp.BindResource(),
				}}
			})
			s, err := xmpp.NewSession(ctx, jid.MustParse("localhost"), jid.MustParse("alice@localhost"), cs, xmpp.Secure, neg)
			if tc.cond == "" {
				if err != nil {
					t.Fatalf("client: %v", err)
				}
				if s.State()&xmpp.Authn == 0 {
					t.Fatal("client not authenticated")
				}
				if err := srv.wait(t); err != nil {
					t.Fatalf("server: %v", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), string(tc.cond)) {
					t.Fatalf("client: %v, want %s", err, tc.cond)
				}
				cs.Close()
				srv.wait(t)
			}
			if got := srv.Results(); len(got) != 1 || got[0] != (result{tc.node, tc.cond}) {
				t.Fatalf("OnResult calls %v", got)
			}
		})
	}
}

// TestFeatureMaxAttempts: with MaxAttempts 1 the second <auth/> ends the stream.
func TestFeatureMaxAttempts(t *testing.T) {
	v := newTestVerifier(t, "localhost", DefaultOptions(), nil)
	cs, ss := net.Pipe()
	defer cs.Close()
	done := make(chan error, 1)
	go func() {
		neg := xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: []xmpp.StreamFeature{Feature(FeatureConfig{
				Verifier:    func() *Verifier { return v },
				MaxAttempts: 1,
			})}}
		})
		_, err := xmpp.ReceiveSession(context.Background(), ss, xmpp.Secure, neg)
		done <- err
		ss.Close()
	}()
	c := newRawClient(t, cs)
	c.send(streamHeader)
	c.expect(`</stream:features>`)
	c.send(auth("X-TOKEN", "%%%%"))
	c.expect(failure(IncorrectEncoding))
	c.send(auth("X-TOKEN", b64("\x00alice\x00"+mint(t, v, "alice", time.Now()))))
	c.expect(wirePolicyViolation)
	if err := <-done; !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("ReceiveSession: %v", err)
	}
}

// Exchange runs the same exchange as Feature on a decoder and writer of the
// caller's own, and reads the stream level itself: the stream's end, a
// stream error, text.
func TestExchange(t *testing.T) {
	v := newTestVerifier(t, "localhost", DefaultOptions(), NewReplayCache(1000))
	fresh := func() string { return b64("\x00alice\x00" + mint(t, v, "alice", featureNow)) }
	bad := auth("X-TOKEN", b64("\x00bob\x00"+mint(t, v, "alice", featureNow)))
	for _, tc := range []struct {
		name     string
		in       string
		wantNode string
		wantOut  string
		wantErr  func(error) bool
	}{
		{"success", auth("X-TOKEN", fresh()), "alice", success, nil},
		{"failure, then success", bad + " \n" + auth("X-TOKEN", fresh()), "alice", failure(NotAuthorized) + success, nil},
		{"empty auth, response", auth("X-TOKEN", "") + "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + fresh() + "</response>", "alice", challenge + success, nil},
		{"too many", bad + bad + bad + bad, "", strings.Repeat(failure(NotAuthorized), 3) + wirePolicyViolation,
			func(err error) bool { return errors.Is(err, ErrTooManyAttempts) }},
		{"stream end", bad + "</stream:stream>", "", failure(NotAuthorized), func(err error) bool { return errors.Is(err, io.EOF) }},
		{"stream error", bad + "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", "", failure(NotAuthorized),
			func(err error) bool { var se stream.Error; return errors.As(err, &se) && se.Err == "conflict" }},
		{"text", bad + "hello<x/>", "", failure(NotAuthorized), func(err error) bool { return errors.Is(err, errStreamText) }},
		{"comment", bad + "<!-- c -->", "", failure(NotAuthorized), func(err error) bool { return errors.Is(err, errStreamMarkup) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := FeatureConfig{Verifier: func() *Verifier { return v }, Now: func() time.Time { return featureNow }}
			node, out, err := exchange(t, cfg, tc.in)
			if node != tc.wantNode || out != tc.wantOut {
				t.Errorf("got node %q, answers %q; want %q, %q", node, out, tc.wantNode, tc.wantOut)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !tc.wantErr(err) {
				t.Errorf("error %v (%T)", err, err)
			}
		})
	}
}

// TestExchangeAdmit: an attempt Admit refuses is answered with the refusal's
// condition without being verified (the token stays unused), OnResult gets
// the same *Error, and the next attempt, admitted, succeeds with that token.
func TestExchangeAdmit(t *testing.T) {
	v := newTestVerifier(t, "localhost", DefaultOptions(), NewReplayCache(1000))
	tok := b64("\x00alice\x00" + mint(t, v, "alice", featureNow))
	const header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
	d := xml.NewDecoder(strings.NewReader(header + auth("X-TOKEN", tok) + auth("X-TOKEN", tok)))
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	first, err := d.Token()
	if err != nil {
		t.Fatal(err)
	}
	refusal := &Error{TemporaryAuthFailure, "rate limited"}
	admits := 0
	var results []error
	cfg := FeatureConfig{
		Verifier: func() *Verifier { return v },
		Now:      func() time.Time { return featureNow },
		Admit: func() *Error {
			admits++
			if admits == 1 {
				return refusal
			}
			return nil
		},
		OnResult: func(_ string, err error) { results = append(results, err) },
	}
	var out strings.Builder
	node, err := cfg.Exchange(context.Background(), d, first.(xml.StartElement), &out)
	if err != nil || node != "alice" {
		t.Fatalf("Exchange = %q, %v; want alice", node, err)
	}
	if want := failure(TemporaryAuthFailure) + success; out.String() != want {
		t.Errorf("answers %q, want %q", out.String(), want)
	}
	if len(results) != 2 || results[0] != error(refusal) || results[1] != nil {
		t.Errorf("OnResult got %v, want [the refusal, nil]", results)
	}
}

// TestExchangeLimitFailure: LimitFailure is told of failures only, after
// verification, with the case-mapped username; its refusal replaces the
// failure's condition; a valid token logs in whatever it answered before,
// and is recorded in the replay cache then (a second use fails).
func TestExchangeLimitFailure(t *testing.T) {
	v := newTestVerifier(t, "localhost", DefaultOptions(), NewReplayCache(1000))
	good := b64("\x00Alice\x00" + mint(t, v, "alice", featureNow))
	forged := b64("\x00Alice\x00" + mint(t, v, "bob", featureNow)) // signed for someone else
	refusal := &Error{TemporaryAuthFailure, "too many failures"}
	var told []string
	cfg := FeatureConfig{
		Verifier:    func() *Verifier { return v },
		Now:         func() time.Time { return featureNow },
		MaxAttempts: 5,
		LimitFailure: func(user string, fail *Error) *Error {
			told = append(told, user+"/"+string(fail.Condition))
			if len(told) > 1 {
				return refusal // over the limit from the second failure on
			}
			return nil
		},
	}
	run := func(in string) (string, string, error) {
		t.Helper()
		return exchange(t, cfg, in)
	}

	node, out, err := run(auth("X-TOKEN", forged) + auth("X-TOKEN", b64("\x00\x00x")) + auth("X-TOKEN", "!!") + auth("X-TOKEN", good))
	if err != nil || node != "alice" {
		t.Fatalf("Exchange = %q, %v; want alice", node, err)
	}
	// The first failure keeps its condition, the later ones get the
	// refusal's, and the valid token logs in.
	if want := failure(NotAuthorized) + failure(TemporaryAuthFailure) + failure(TemporaryAuthFailure) + success; out != want {
		t.Errorf("answers %q, want %q", out, want)
	}
	if want := "alice/not-authorized, /malformed-request, /incorrect-encoding"; strings.Join(told, ", ") != want {
		t.Errorf("LimitFailure told %q, want %q", strings.Join(told, ", "), want)
	}
	// The token was recorded when it logged in: its second use fails.
	if _, out, err = run(auth("X-TOKEN", good) + "</stream:stream>"); err != io.EOF || out != failure(TemporaryAuthFailure) {
		t.Errorf("replayed token: %q, %v; want a refused failure", out, err)
	}
	if last := told[len(told)-1]; last != "alice/not-authorized" {
		t.Errorf("replay told as %q, want alice/not-authorized", last)
	}

	// Failures of the server's own are not charged.
	told = nil
	cfg.Verifier = func() *Verifier { return nil }
	if _, out, _ = run(auth("X-TOKEN", good) + "</stream:stream>"); out != failure(TemporaryAuthFailure) || len(told) != 0 {
		t.Errorf("no verifier: %q, LimitFailure told %q", out, told)
	}
}

// exchange runs cfg.Exchange on in, which follows the client's stream
// header, and returns the node, what the server answered and the error.
func exchange(t *testing.T, cfg FeatureConfig, in string) (node, out string, err error) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(streamHeader + in))
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		if first, ok := tok.(xml.StartElement); ok && first.Name.Local != "stream" {
			var b strings.Builder
			node, err = cfg.Exchange(context.Background(), d, first, &b)
			return node, b.String(), err
		}
	}
}
