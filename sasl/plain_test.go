package sasl

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	msasl "mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

const (
	listXToken = `<mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>X-TOKEN</mechanism></mechanisms>`
	listPlain  = `<mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>X-TOKEN</mechanism><mechanism>PLAIN</mechanism></mechanisms>`
)

// TestPlainWire runs PLAIN, the token as the password, through Feature on a
// mellium session: the same answers as X-TOKEN, and invalid-mechanism where
// PLAIN is not offered.
func TestPlainWire(t *testing.T) {
	replay := NewReplayCache(1000)
	v := newTestVerifier(t, "localhost", DefaultOptions(), replay)
	plainOpts := DefaultOptions()
	plainOpts.Plain = true
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
	on := plainOpts.Mechanisms()
	type step struct{ send, expect string }
	tests := []struct {
		name    string
		v       *Verifier
		mechs   []string
		list    string
		steps   []step
		results []result
	}{
		{"success", v, on, listPlain, []step{{auth("PLAIN", b64(fresh())), success}}, []result{{"alice", ""}}},
		{"success, authzid and case", v, on, listPlain, []step{{auth("PLAIN", b64("alice@localhost\x00Alice"+fresh()[6:])), success}}, []result{{"alice", ""}}},
		{"X-TOKEN still offered", v, on, listPlain, []step{{auth("X-TOKEN", b64(fresh())), success}}, []result{{"alice", ""}}},
		{"not offered", v, nil, listXToken, []step{{auth("PLAIN", b64(fresh())), failure(InvalidMechanism)}}, []result{{"", InvalidMechanism}}},
		{"not offered, options without plain", v, DefaultOptions().Mechanisms(), listXToken, []step{{auth("PLAIN", b64(fresh())), failure(InvalidMechanism)}}, []result{{"", InvalidMechanism}}},
		{"other mechanism", v, on, listPlain, []step{{auth("SCRAM-SHA-1", b64(fresh())), failure(InvalidMechanism)}}, []result{{"", InvalidMechanism}}},
		{"bad base64", v, on, listPlain, []step{{auth("PLAIN", "!!notbase64"), failure(IncorrectEncoding)}}, []result{{"", IncorrectEncoding}}},
		{"two fields", v, on, listPlain, []step{{auth("PLAIN", b64("alice\x00"+mint(t, v, "alice", featureNow))), failure(MalformedRequest)}}, []result{{"", MalformedRequest}}},
		{"a password, not a token", v, on, listPlain, []step{{auth("PLAIN", b64("\x00alice\x00hunter2")), failure(MalformedRequest)}}, []result{{"", MalformedRequest}}},
		{"invalid authzid", v, on, listPlain, []step{{auth("PLAIN", b64("bob@localhost"+fresh())), failure(InvalidAuthzid)}}, []result{{"", InvalidAuthzid}}},
		{"wrong user", v, on, listPlain, []step{{auth("PLAIN", b64("\x00bob"+fresh()[6:])), failure(NotAuthorized)}}, []result{{"", NotAuthorized}}},
		{"replay", v, on, listPlain, []step{{auth("PLAIN", b64(used)), failure(NotAuthorized)}}, []result{{"", NotAuthorized}}},
		{"replay cache full", vFull, on, listPlain, []step{{auth("PLAIN", b64(fresh())), failure(TemporaryAuthFailure)}}, []result{{"", TemporaryAuthFailure}}},
		{"no verifier", nil, on, listPlain, []step{{auth("PLAIN", b64(fresh())), failure(TemporaryAuthFailure)}}, []result{{"", TemporaryAuthFailure}}},
		{"empty auth, then the response", v, on, listPlain, []step{
			{auth("PLAIN", ""), challenge},
			{`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + b64(fresh()) + `</response>`, success},
		}, []result{{"alice", ""}}},
		{"PLAIN fails, X-TOKEN succeeds", v, on, listPlain, []step{
			{auth("PLAIN", b64(used)), failure(NotAuthorized)},
			{auth("X-TOKEN", b64(fresh())), success},
		}, []result{{"", NotAuthorized}, {"alice", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, ss := net.Pipe()
			defer cs.Close()
			srv := startServerWith(t, ss, tc.v, tc.mechs)
			c := newRawClient(t, cs)
			c.send(streamHeader)
			c.expect(tc.list)
			c.expect(`</stream:features>`)
			for _, s := range tc.steps {
				c.send(s.send)
				c.expect(s.expect)
			}
			cs.Close()
			if err := srv.wait(t); errors.Is(err, ErrTooManyAttempts) {
				t.Errorf("ReceiveSession: %v", err)
			}
			if got := srv.Results(); !equalResults(got, tc.results) {
				t.Errorf("OnResult calls %v, want %v", got, tc.results)
			}
		})
	}
}

// TestPlainReplayAcrossMechanisms: a token used once through either
// mechanism is refused through the other, on other connections.
func TestPlainReplayAcrossMechanisms(t *testing.T) {
	v := newTestVerifier(t, "localhost", DefaultOptions(), NewReplayCache(100))
	opts := DefaultOptions()
	opts.Plain = true
	cfg := FeatureConfig{Verifier: func() *Verifier { return v }, Now: func() time.Time { return featureNow }, Mechanisms: opts.Mechanisms()}
	login := func(in string) (string, string) {
		node, out, _ := exchange(t, cfg, in+"</stream:stream>")
		return node, out
	}
	for _, order := range [][2]string{{"PLAIN", "X-TOKEN"}, {"X-TOKEN", "PLAIN"}, {"PLAIN", "PLAIN"}} {
		t.Run(order[0]+" then "+order[1], func(t *testing.T) {
			resp := b64("\x00alice\x00" + mint(t, v, "alice", featureNow))
			if node, out := login(auth(order[0], resp)); node != "alice" || out != success {
				t.Fatalf("first login: %q, %q", node, out)
			}
			if node, out := login(auth(order[1], resp)); node != "" || out != failure(NotAuthorized) {
				t.Fatalf("replay: %q, %q; want not-authorized", node, out)
			}
		})
	}
}

// TestPlainMelliumClient logs in with mellium's stock PLAIN client, the token
// as the password, and shows that a client preferring X-TOKEN still gets it.
func TestPlainMelliumClient(t *testing.T) {
	v := newTestVerifier(t, "localhost", DefaultOptions(), NewReplayCache(10))
	opts := DefaultOptions()
	opts.Plain = true
	for _, tc := range []struct {
		name  string
		mechs []string
		cond  Condition // "" for success
	}{
		{"PLAIN offered", opts.Mechanisms(), ""},
		{"PLAIN not offered", nil, "no matching mechanism"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ss := net.Pipe()
			defer cs.Close()
			srv := startServerWith(t, ss, v, tc.mechs)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tok := mint(t, v, "alice", featureNow)
			neg := xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
				return xmpp.StreamConfig{Features: []xmpp.StreamFeature{xmpp.SASL("", tok, msasl.Plain), xmpp.BindResource()}}
			})
			_, err := xmpp.NewSession(ctx, jid.MustParse("localhost"), jid.MustParse("alice@localhost"), cs, xmpp.Secure, neg)
			if tc.cond == "" {
				if err != nil {
					t.Fatalf("client: %v", err)
				}
				if err := srv.wait(t); err != nil {
					t.Fatalf("server: %v", err)
				}
				if got := srv.Results(); len(got) != 1 || got[0] != (result{"alice", ""}) {
					t.Fatalf("OnResult calls %v", got)
				}
				return
			}
			if err == nil {
				t.Fatal("client logged in with a mechanism that is not offered")
			}
			cs.Close()
			srv.wait(t)
		})
	}
}

func TestMechanismsList(t *testing.T) {
	opts := DefaultOptions()
	if got := string(AppendMechanisms(nil, opts.Mechanisms())); got != strings.ReplaceAll(listXToken, `"`, `'`) {
		t.Errorf("without plain: %s", got)
	}
	opts.Plain = true
	if got := string(AppendMechanisms([]byte("x"), opts.Mechanisms())); got != "x"+strings.ReplaceAll(listPlain, `"`, `'`) {
		t.Errorf("with plain: %s", got)
	}
	// X-TOKEN stays first, unknown names are not offered.
	if got := string(AppendMechanisms(nil, []string{"PLAIN", "SCRAM-SHA-1"})); got != strings.ReplaceAll(listPlain, `"`, `'`) {
		t.Errorf("PLAIN listed first: %s", got)
	}
	cfg := FeatureConfig{Mechanisms: []string{"PLAIN"}}
	for m, want := range map[string]bool{"X-TOKEN": true, "PLAIN": true, "plain": false, "": false, "SCRAM-SHA-1": false} {
		if cfg.offers(m) != want {
			t.Errorf("offers(%q) = %v", m, !want)
		}
	}
	if (FeatureConfig{}).offers("PLAIN") {
		t.Error("the zero FeatureConfig offers PLAIN")
	}
}
