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
	r := newFASTRAM()
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
