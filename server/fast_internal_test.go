package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A user's FAST tokens are bounded: expired ones go when a new user agent
// comes, and past maxFASTAgents the one issued longest ago does.
func TestFASTRAMBounded(t *testing.T) {
	r := newFASTRAM(nil)
	now := time.Unix(1_700_000_000, 0)
	r.issue(fastUser{"h", "alice", "old"}, fastMechanism, "", "", time.Minute, now)
	later := now.Add(time.Hour)
	for i := range maxFASTAgents + 5 {
		r.issue(fastUser{"h", "alice", fmt.Sprint("ua", i)}, fastMechanism, "", "", time.Hour, later.Add(time.Duration(i)*time.Second))
	}
	list := r.list("h", "alice", later.Add(time.Minute))
	if len(list) != maxFASTAgents {
		t.Fatalf("%d tokens kept, want %d", len(list), maxFASTAgents)
	}
	for _, in := range list {
		if in.Agent == "old" || in.Agent == "ua0" {
			t.Fatalf("%s kept", in.Agent)
		}
	}
}

// fmt on a FAST token prints no byte of it, whatever the verb.
func TestFASTSecretRedacted(t *testing.T) {
	s := newFASTSecret()
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%q %x %v %#v %s", s, s, s, s, s)} {
		if len(s) < 10 || strings.Contains(out, string(s)) || strings.Contains(out, string(s)[:8]) {
			t.Fatalf("token in %q", out)
		}
	}
}

// FuzzFASTEvent: an event from a peer decodes or is refused, never panics,
// and what decodes encodes back to the same bytes.
func FuzzFASTEvent(f *testing.F) {
	now := time.Unix(1_700_000_000, 5)
	for _, e := range []fastEvent{
		{kind: fastEventIssue, user: fastUser{"h", "alice", "ua"}, token: fastToken{secret: "s3cret", mechanism: fastMechanism, created: now, expires: now.Add(time.Hour)}, software: "sw"},
		{kind: fastEventUse, user: fastUser{"h", "alice", "ua"}, digest: fastDigest("s3cret"), count: 7, invalidate: true},
		{kind: fastEventRevoke, user: fastUser{"h", "alice", ""}},
	} {
		f.Add(e.encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeFASTEvent(b)
		if err != nil {
			return
		}
		e2, err := decodeFASTEvent(e.encode())
		if err != nil || e2.kind != e.kind || e2.user != e.user || e2.token.secret != e.token.secret || e2.count != e.count || e2.digest != e.digest {
			t.Fatalf("round trip: %+v, then %+v, %v", e, e2, err)
		}
	})
}
