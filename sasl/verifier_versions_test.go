package sasl

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// versionedKeys is VersionedKeys from lists of versions, the one in force first.
type versionedKeys map[string][][]byte

func (m versionedKeys) Key(name string) ([]byte, error) {
	if len(m[name]) == 0 {
		return nil, errNoKey
	}
	return append([]byte(nil), m[name][0]...), nil
}

func (m versionedKeys) Versions(name string) ([][]byte, error) {
	if len(m[name]) == 0 {
		return nil, errNoKey
	}
	out := make([][]byte, len(m[name]))
	for i, k := range m[name] {
		out[i] = append([]byte(nil), k...)
	}
	return out, nil
}

// TestVerifierAcceptsEveryVersion: a verifier built from several versions
// of each key verifies a token signed with any of them, mints with the one
// in force, counts the logins that used another, and refuses a key it does
// not hold, as one failure whatever the number of versions.
func TestVerifierAcceptsEveryVersion(t *testing.T) {
	s1, s2, s3 := []byte("secret one"), []byte("secret two"), []byte("secret three, not accepted")
	o1, o2, o3 := []byte("seed number one....."), []byte("seed number two....."), []byte("seed three, unknown.")
	keys := versionedKeys{"access_secret": {s2, s1}, "otp_seed": {o2, o1}}
	opts := DefaultOptions()
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name         string
		secret, seed []byte
		want         Condition // "" logs in
		accepted     bool      // counted as a login with an accepted version
	}{
		{"in force", s2, o2, "", false},
		{"old secret", s1, o2, "", true},
		{"old seed", s2, o1, "", true},
		{"both old", s1, o1, "", true},
		{"unknown secret", s3, o2, NotAuthorized, false},
		{"unknown seed", s2, o3, NotAuthorized, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var counted atomic.Int64
			v, err := NewVerifier("first.com", keys, opts, NewReplayCache(10))
			if err != nil {
				t.Fatal(err)
			}
			if secrets, seeds := v.Versions(); secrets != 2 || seeds != 2 {
				t.Fatalf("Versions = %d, %d; want 2, 2", secrets, seeds)
			}
			v.SetHooks(VerifierHooks{AcceptedVersion: func(host string) {
				if host != "first.com" {
					t.Errorf("hook for host %q", host)
				}
				counted.Add(1)
			}})
			node := []string{"alice", "bob", "carol", "dave", "eve", "frank"}[i]
			tok, _, err := MintToken(tc.secret, tc.seed, opts, node, "first.com", now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(context.Background(), []byte("\x00"+node+"\x00"+tok), now)
			if cond(err) != tc.want || (err == nil && got != node) {
				t.Fatalf("Verify = %q, %v; want condition %q", got, err, tc.want)
			}
			if (counted.Load() == 1) != tc.accepted || counted.Load() > 1 {
				t.Fatalf("counted %d logins with an accepted version, want accepted=%t", counted.Load(), tc.accepted)
			}
		})
	}

	// Mint signs with the versions in force: a verifier that holds only
	// those takes its tokens.
	v, err := NewVerifier("first.com", keys, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := v.Mint("alice", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(context.Background(), KeyMap{"access_secret": s2, "otp_seed": o2}, opts, "alice", tok, "first.com", now); err != nil {
		t.Fatalf("a minted token does not verify with the keys in force alone: %v", err)
	}
	if _, err := Verify(context.Background(), KeyMap{"access_secret": s1, "otp_seed": o1}, opts, "alice", tok, "first.com", now); err == nil {
		t.Fatal("a minted token verifies with the old keys alone: Mint did not sign with the keys in force")
	}
}

// TestVerifierRevokedHook: a token the hook says was revoked fails with
// not-authorized "revoked", after its signature verified (a forged token
// never reaches the hook) and before the replay cache (so it takes no room
// there); the hook is given the start of the token's OTP time step.
func TestVerifierRevokedHook(t *testing.T) {
	keys := KeyMap{"access_secret": []byte("the secret"), "otp_seed": []byte("the seed............")}
	opts := DefaultOptions()
	now := time.Unix(1_800_000_013, 0) // 13 s into a 30 s step
	replay := NewReplayCache(10)
	v, err := NewVerifier("first.com", keys, opts, replay)
	if err != nil {
		t.Fatal(err)
	}
	var asked []time.Time
	revokedBefore := now
	v.SetHooks(VerifierHooks{Revoked: func(host string, node []byte, minted time.Time) bool {
		if host != "first.com" || string(node) != "alice" {
			t.Errorf("asked about %s@%s", node, host)
		}
		asked = append(asked, minted)
		return !minted.After(revokedBefore)
	}})
	tok, _, err := v.Mint("alice", now)
	if err != nil {
		t.Fatal(err)
	}
	forged := tok[:len(tok)-5] + "AAAA="
	if _, err := v.Verify(context.Background(), []byte("\x00alice\x00"+forged), now); cond(err) != NotAuthorized || len(asked) != 0 {
		t.Fatalf("forged token: %v, hook asked %d times; want not-authorized before the hook", err, len(asked))
	}
	_, err = v.Verify(context.Background(), []byte("\x00alice\x00"+tok), now)
	if cond(err) != NotAuthorized || err.(*Error).Reason != "revoked" {
		t.Fatalf("revoked token: %v", err)
	}
	if len(asked) != 1 || !asked[0].Equal(time.Unix(1_800_000_000-1_800_000_000%30, 0)) {
		t.Fatalf("hook given %v, want the start of the token's step", asked)
	}
	if replay.Len() != 0 {
		t.Fatal("a revoked token took room in the replay cache")
	}
	// Minted in the next step: logs in.
	later := now.Add(30 * time.Second)
	tok, _, _ = v.Mint("alice", later)
	if node, err := v.Verify(context.Background(), []byte("\x00alice\x00"+tok), later); err != nil || node != "alice" {
		t.Fatalf("a token minted after the revocation's step: %q, %v", node, err)
	}
}
