package sasl

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// signedFor returns a token of v's host signed over username exactly as
// given (Mint would case-map it first), as an application that does not
// apply PRECIS mints: the digits of a fresh token, signed again.
func signedFor(t testing.TB, v *Verifier, username string, now time.Time) string {
	t.Helper()
	digits, _, _ := strings.Cut(mint(t, v, "x", now), " ")
	mac := hmac.New(sha256.New, testKeys[v.Host()]["access_secret"])
	mac.Write([]byte(digits + username + "@" + v.Host()))
	return digits + " " + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TestCaseRule: a token signed for the username exactly as the client sends
// it logs in, as does one signed for its case-mapped form; either way the
// node is the case-mapped one, and no other spelling gets in.
func TestCaseRule(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name    string
		signed  string // the username the token is signed for
		sent    string // the username the client sends
		authzid string
		node    string
		cond    Condition
	}{
		{"signed as sent, mixed case", "legitE", "legitE", "", "legite", ""},
		{"signed as sent, upper case", "LEGITE", "LEGITE", "", "legite", ""},
		{"signed as sent, authzid case-mapped", "legitE", "legitE", "legite@localhost", "legite", ""},
		{"signed as sent, authzid as sent", "legitE", "legitE", "legitE@localhost", "legite", ""},
		{"signed as sent, non-ASCII", "Zoë", "Zoë", "", "zoë", ""},
		{"signed case-mapped, sent mixed case", "legite", "LegitE", "", "legite", ""},
		{"signed case-mapped, sent as is", "legite", "legite", "", "legite", ""},
		{"signed mixed case, sent case-mapped", "legitE", "legite", "", "", NotAuthorized},
		{"signed mixed case, sent in another case", "legitE", "LegitE", "", "", NotAuthorized},
		{"signed mixed case, sent upper case", "legitE", "LEGITE", "", "", NotAuthorized},
		{"signed for another user", "bob", "legitE", "", "", NotAuthorized},
		{"signed as sent, authzid another user", "legitE", "legitE", "bob@localhost", "", InvalidAuthzid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, "localhost", DefaultOptions(), NewReplayCache(100))
			resp := []byte(tc.authzid + "\x00" + tc.sent + "\x00" + signedFor(t, v, tc.signed, now))
			node, err := v.Verify(context.Background(), resp, now)
			if node != tc.node || cond(err) != tc.cond {
				t.Fatalf("Verify = %q, %v; want %q, %q", node, err, tc.node, tc.cond)
			}
			if err != nil {
				return
			}
			// Good once, whichever form it was signed for.
			if _, err := v.Verify(context.Background(), resp, now); cond(err) != NotAuthorized {
				t.Fatalf("replay: %v, want not-authorized", err)
			}
		})
	}
}

// TestCaseRuleWire runs the case rule through FeatureConfig.Exchange.
func TestCaseRuleWire(t *testing.T) {
	v := newTestVerifier(t, "localhost", DefaultOptions(), NewReplayCache(100))
	legitE := signedFor(t, v, "legitE", featureNow)
	for _, tc := range []struct {
		name     string
		in       string
		wantNode string
		wantOut  string
	}{
		{"signed as sent", auth("X-TOKEN", b64("\x00legitE\x00"+legitE)), "legite", success},
		{"the same token again", auth("X-TOKEN", b64("\x00legitE\x00"+legitE)) + "</stream:stream>", "", failure(NotAuthorized)},
		{"another spelling", auth("X-TOKEN", b64("\x00LegitE\x00"+signedFor(t, v, "legitE", featureNow))) + "</stream:stream>", "", failure(NotAuthorized)},
		{"signed case-mapped", auth("X-TOKEN", b64("\x00LEGITE\x00"+signedFor(t, v, "legite", featureNow))), "legite", success},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := FeatureConfig{Verifier: func() *Verifier { return v }, Now: func() time.Time { return featureNow }}
			node, out, _ := exchange(t, cfg, tc.in)
			if node != tc.wantNode || out != tc.wantOut {
				t.Errorf("got node %q, answers %q; want %q, %q", node, out, tc.wantNode, tc.wantOut)
			}
		})
	}
}
