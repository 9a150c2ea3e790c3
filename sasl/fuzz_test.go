package sasl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"
)

var fuzzNow = time.Unix(1_800_000_000, 0)

var knownConditions = map[Condition]bool{
	MalformedRequest: true, InvalidAuthzid: true, NotAuthorized: true, TemporaryAuthFailure: true,
}

// FuzzParseResponse feeds arbitrary decoded SASL responses to Verify: it must
// answer each with a node or an *Error of a condition SPEC.md section 3
// names, never panic, and never echo the input in its error text.
func FuzzParseResponse(f *testing.F) {
	v := newTestVerifier(f, "localhost", DefaultOptions(), NewReplayCache(1<<16))
	legacy := DefaultOptions()
	legacy.NonceDigits = 0
	vl := newTestVerifier(f, "localhost", legacy, NewReplayCache(1<<16))
	tok, _, _ := v.Mint("alice", fuzzNow)
	for _, s := range []string{
		"\x00alice\x00" + tok,
		"alice@localhost\x00Alice\x00" + tok,
		"\x00zoë\x00" + tok,
		"\x00alice\x00",
		"\x00\x00",
		"alice\x00" + tok,
		"\x00alice\x00" + tok + "\x00",
		"\x00al ice\x00" + tok,
		"bob@localhost/x\x00alice\x00" + tok,
		"\x00\xff\x00" + tok,
		"\x00alice\x00" + tok[:41] + "!!!!" + tok[45:],
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		if a, b, c, e := splitResponse(resp); e == nil {
			if !bytes.Equal(bytes.Join([][]byte{a, b, c}, []byte{0}), resp) {
				t.Fatalf("splitResponse lost bytes of %q", resp)
			}
		}
		// The same bytes as an <auth/> payload: base64 or not, the feature
		// answers with a condition.
		cfg := FeatureConfig{Verifier: func() *Verifier { return v }, Now: func() time.Time { return fuzzNow }}
		if _, e := cfg.attempt(context.Background(), resp); e != nil && !knownConditions[e.Condition] && e.Condition != IncorrectEncoding {
			t.Fatalf("attempt(%q): %v", resp, e)
		}
		for _, ver := range []*Verifier{v, vl} {
			node, err := ver.Verify(context.Background(), resp, fuzzNow)
			if err == nil {
				if node == "" || !utf8.ValidString(node) || strings.ContainsAny(node, "@/\x00") {
					t.Fatalf("Verify(%q) = %q", resp, node)
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) || !knownConditions[e.Condition] {
				t.Fatalf("Verify(%q): %v is not an *Error of a known condition", resp, err)
			}
			if len(resp) > 4 && strings.Contains(err.Error(), string(resp)) {
				t.Fatalf("error %q echoes the input", err)
			}
		}
	})
}

// FuzzParseToken checks the token parser: what it accepts has the exact
// shape (digits, one space, canonical base64 of 32 bytes), and it never panics.
func FuzzParseToken(f *testing.F) {
	v := newTestVerifier(f, "localhost", DefaultOptions(), nil)
	tok, _, _ := v.Mint("alice", fuzzNow)
	for _, s := range []string{
		tok,
		tok[:40] + "0" + tok[40:],
		tok[1:],
		tok[:40],
		tok[:40] + " " + tok[41:84],
		tok[:40] + " " + tok[41:83] + "B=",
		tok[:40] + "  " + tok[41:],
		" " + tok[41:],
		strings.Repeat("1", 2000) + tok[40:],
		"",
	} {
		f.Add([]byte(s), uint8(32))
	}
	f.Fuzz(func(t *testing.T, token []byte, nonce uint8) {
		if sp := bytes.IndexByte(token, ' '); sp >= 0 {
			// decodeSig against the standard library's strict decoder.
			var sig [32]byte
			want, err := base64.StdEncoding.Strict().DecodeString(string(token[sp+1:]))
			ok := err == nil && len(want) == 32 && !bytes.ContainsAny(token[sp+1:], "\r\n")
			if got := decodeSig(&sig, token[sp+1:]); got != ok || ok && !bytes.Equal(sig[:], want) {
				t.Fatalf("decodeSig(%q) = %v %x; encoding/base64: %v %x", token[sp+1:], got, sig, ok, want)
			}
		}
		nonceDigits := int(nonce) % (MaxNonceDigits + 1)
		digits, sig, err := parseToken(token, 8, nonceDigits)
		if err != nil {
			if err.Condition != MalformedRequest {
				t.Fatalf("parseToken(%q): %v", token, err)
			}
			return
		}
		if len(token) > MaxTokenSize || len(digits) < 8 || nonceDigits > 0 && len(digits) != 8+nonceDigits {
			t.Fatalf("parseToken(%q) accepted %d digits", token, len(digits))
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				t.Fatalf("parseToken(%q) accepted digits %q", token, digits)
			}
		}
		again := string(digits) + " " + base64.StdEncoding.EncodeToString(sig[:])
		if again != string(token) {
			t.Fatalf("parseToken(%q) accepted a token that is not canonical (%q)", token, again)
		}
	})
}

// FuzzUsername checks normalizeUsername, fast ASCII path included, against
// mellium's jid.New, which applies the same PRECIS profile and localpart rules.
func FuzzUsername(f *testing.F) {
	for _, s := range []string{"alice", "Alice", "ALICE", "zoë", "ZOË", "1alice", "a@b", "a b", "a\"b", "&", "\xff", "ﬀ", "Ａｌｉｃｅ", "", "a/b", "ǅ", "\u0627\u0644"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, username string) {
		var buf [64]byte
		got, err := normalizeUsername(buf[:0], []byte(username))
		j, jerr := jid.New(username, "localhost", "")
		if username == "" {
			if err == nil {
				t.Fatal("empty username accepted")
			}
			return
		}
		switch {
		case (err == nil) != (jerr == nil):
			t.Fatalf("normalizeUsername(%q) = %q, %v; jid.New: %v", username, got, err, jerr)
		case err == nil && string(got) != j.Localpart():
			t.Fatalf("normalizeUsername(%q) = %q, jid.New gives %q", username, got, j.Localpart())
		}
	})
}

// FuzzReadPayload reads arbitrary XML inside <auth/> as the feature does: it
// must end, bound the payload, and never panic.
func FuzzReadPayload(f *testing.F) {
	for _, s := range []string{"", "=", "AGFsaWNl", "<x/>", "<x>y</x>z", "&amp;&lt;", "<![CDATA[AA==]]>", strings.Repeat("A", 6000), "<a><b><c/></b></a>", "</auth><auth>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, inner string) {
		d := xml.NewDecoder(strings.NewReader("<auth xmlns='" + NS + "' mechanism='X-TOKEN'>" + inner + "</auth>"))
		tok, err := d.Token()
		if err != nil {
			return
		}
		payload, e, _ := ReadPayload(d, tok.(xml.StartElement))
		if len(payload) > maxPayload {
			t.Fatalf("payload of %d bytes", len(payload))
		}
		if e != nil && e.Condition != MalformedRequest {
			t.Fatalf("readPayload: %v", e)
		}
	})
}

// FuzzExchange runs FeatureConfig.Exchange, X-TOKEN and PLAIN offered, on
// arbitrary client bytes after a stream header: it must end, never panic,
// and write only SASL answers (a failure with a known condition, the empty
// challenge, success at most once and last, or the policy-violation error).
func FuzzExchange(f *testing.F) {
	v := newTestVerifier(f, "localhost", DefaultOptions(), NewReplayCache(1<<16))
	tok, _, _ := v.Mint("alice", fuzzNow)
	resp := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + tok))
	for _, s := range []string{
		"<auth xmlns='" + NS + "' mechanism='PLAIN'>" + resp + "</auth>",
		"<auth xmlns='" + NS + "' mechanism='X-TOKEN'>" + resp + "</auth>",
		"<auth xmlns='" + NS + "' mechanism='PLAIN'/><response xmlns='" + NS + "'>" + resp + "</response>",
		"<auth xmlns='" + NS + "' mechanism='PLAIN'>=</auth><abort xmlns='" + NS + "'/>",
		"<auth xmlns='" + NS + "' mechanism='plain'>AA==</auth><auth xmlns='" + NS + "' mechanism='SCRAM-SHA-1'/>",
		"<auth xmlns='" + NS + "' mechanism='PLAIN'>%%</auth>x",
		"<auth xmlns='" + NS + "'><x/></auth></stream:stream>",
		"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
		"<message/>",
		"",
	} {
		f.Add(s)
	}
	const header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
	answers := []string{answerChallenge, answerSuccess, `<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></stream:stream>`}
	for _, c := range []Condition{Aborted, IncorrectEncoding, InvalidAuthzid, InvalidMechanism, MalformedRequest, NotAuthorized, TemporaryAuthFailure} {
		answers = append(answers, failureBytes(c))
	}
	f.Fuzz(func(t *testing.T, in string) {
		d := xml.NewDecoder(strings.NewReader(header + in))
		var start xml.StartElement
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			if s, ok := tok.(xml.StartElement); ok && s.Name.Local != "stream" {
				start = s
				break
			}
		}
		cfg := FeatureConfig{
			Verifier:   func() *Verifier { return v },
			Now:        func() time.Time { return fuzzNow },
			Mechanisms: []string{MechanismName, PlainMechanismName},
		}
		var out strings.Builder
		node, err := cfg.Exchange(context.Background(), d, start, &out)
		rest := out.String()
		for rest != "" {
			found := false
			for _, a := range answers {
				if strings.HasPrefix(rest, a) {
					rest, found = rest[len(a):], true
					if a == answerSuccess && rest != "" {
						t.Fatalf("answers after success: %q", out.String())
					}
					break
				}
			}
			if !found {
				t.Fatalf("unexpected answer %q in %q", rest, out.String())
			}
		}
		if (node != "") != strings.HasSuffix(out.String(), answerSuccess) || node != "" && err != nil {
			t.Fatalf("node %q, err %v, answers %q", node, err, out.String())
		}
	})
}
