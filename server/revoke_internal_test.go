package server

import (
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// TestRevocationsWindowAndLife: which tokens and binds a revocation
// refuses, and that it is dropped from memory once it can refuse nothing.
func TestRevocationsWindowAndLife(t *testing.T) {
	var rs revocations
	at := time.Now()
	until := at.Add(300 * time.Millisecond)
	rs.add("first.com", "alice", "", revoked{at: at, until: until})
	rs.add("first.com", "", "bob@first.com/phone", revoked{at: at, until: until})
	tests := []struct {
		name   string
		host   string
		node   string
		minted time.Time
		want   bool
	}{
		{"minted before", "first.com", "alice", at.Add(-time.Minute), true},
		{"minted at", "first.com", "alice", at, true},
		{"minted after", "first.com", "alice", at.Add(time.Nanosecond), false},
		{"another user", "first.com", "alicia", at.Add(-time.Minute), false},
		{"another host", "second.com", "alice", at.Add(-time.Minute), false},
		{"a full JID's user keeps their tokens", "first.com", "bob", at.Add(-time.Minute), false},
	}
	for _, tc := range tests {
		if got := rs.tokenRevoked(tc.host, []byte(tc.node), tc.minted); got != tc.want {
			t.Errorf("%s: tokenRevoked = %t, want %t", tc.name, got, tc.want)
		}
	}
	binds := []struct {
		name, node, full string
		loggedIn         time.Time
		want             bool
	}{
		{"login before the revocation", "alice", "alice@first.com/x", at.Add(-time.Second), true},
		{"login after", "alice", "alice@first.com/x", at.Add(time.Second), false},
		{"the barred full JID", "bob", "bob@first.com/phone", at.Add(time.Second), true},
		{"another resource", "bob", "bob@first.com/desk", at.Add(-time.Second), false},
	}
	for _, tc := range binds {
		if got := rs.bindRevoked("first.com", tc.node, tc.full, tc.loggedIn); got != tc.want {
			t.Errorf("%s: bindRevoked = %t, want %t", tc.name, got, tc.want)
		}
	}
	if rs.Len() != 2 {
		t.Fatalf("Len = %d, want 2", rs.Len())
	}
	testkit.Eventually(t, 10*time.Second, "revocations kept past their life", func() bool { return rs.Len() == 0 })
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	if len(rs.bare) != 0 || len(rs.full) != 0 {
		t.Fatalf("maps still hold %v %v", rs.bare, rs.full)
	}
	if rs.tokenRevoked("first.com", []byte("alice"), at.Add(-time.Minute)) {
		t.Fatal("an expired revocation still refuses")
	}
}
