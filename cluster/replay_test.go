package cluster

import (
	"testing"
	"time"
)

func TestReplayStore(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := newReplayStore(2)
	exp := now.Add(90 * time.Second)
	steps := []struct {
		host, node, id string
		at             time.Time
		want           uint64
	}{
		{"a", "alice", "t1", now, replayFresh},
		{"a", "alice", "t1", now, replayUsed},
		{"b", "alice", "t1", now, replayFresh}, // another host is another user
		{"a", "bob", "t1", now, replayFull},    // full: refuse, never forget
		{"a", "alice", "t1", exp, replayFresh}, // expired entries go when full
		{"a", "bob", "t1", exp.Add(time.Second), replayFresh},
	}
	for i, st := range steps {
		e := exp
		if st.at.After(now) {
			e = st.at.Add(90 * time.Second)
		}
		if got := s.check(st.host, st.node, []byte(st.id), e, st.at); got != st.want {
			t.Fatalf("step %d: got %d, want %d", i, got, st.want)
		}
	}
}

func TestReplayOwnersAreStable(t *testing.T) {
	// Rendezvous hashing: removing a member moves only the users it owned.
	score := func(members []string, user string) []string {
		return rendezvous(members, "a.test", user)
	}
	all := []string{"n1", "n2", "n3", "n4"}
	moved := 0
	for i := range 200 {
		user := "u" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		before := score(all, user)
		after := score(all[:3], user)
		if before[0] != "n4" && after[0] != before[0] {
			t.Fatalf("user %s moved from %s to %s though n4 did not own it", user, before[0], after[0])
		}
		if before[0] == "n4" {
			moved++
		}
		if len(before) != 2 || before[0] == before[1] {
			t.Fatalf("owners %v", before)
		}
	}
	if moved == 0 || moved == 200 {
		t.Fatalf("n4 owned %d of 200 users: not spread", moved)
	}
}

func TestReplayStoreSweep(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := newReplayStore(100)
	for i := range 50 {
		s.check("a", "u", []byte{byte(i)}, now.Add(time.Duration(i)*time.Second), now)
	}
	// Re-used after expiry: its new expiry keeps it past its old bucket.
	s.check("a", "u", []byte{0}, now.Add(time.Hour), now.Add(time.Second))
	s.sweep(now.Add(25 * time.Second))
	if got := len(s.seen); got != 25 { // 25..49 live, and 0 again
		t.Fatalf("%d entries after sweep, want 25", got)
	}
	if got := s.check("a", "u", []byte{0}, now.Add(time.Hour), now.Add(25*time.Second)); got != replayUsed {
		t.Fatal("a re-used token was forgotten by its old bucket")
	}
	s.sweep(now.Add(2 * time.Hour))
	if len(s.seen) != 0 || len(s.buckets) != 0 {
		t.Fatalf("left %d entries, %d buckets", len(s.seen), len(s.buckets))
	}
}
