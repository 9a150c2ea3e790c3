package storage

import (
	"errors"
	"reflect"
	"testing"
)

func TestBlockList(t *testing.T) {
	eachBackend(t, Options{MaxBlockedJIDs: 4}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		b := st.BlockLists()
		if l, err := b.List(ctx, juliet); err != nil || l != nil {
			t.Fatalf("new list: %q, %v", l, err)
		}
		if err := b.Block(ctx, juliet, "tybalt@example.com", "spam.example", "paris@example.com/court"); err != nil {
			t.Fatal(err)
		}
		if err := b.Block(ctx, juliet, "tybalt@example.com"); err != nil {
			t.Errorf("blocking twice: %v", err)
		}
		want := []string{"paris@example.com/court", "spam.example", "tybalt@example.com"}
		if l, err := b.List(ctx, juliet); err != nil || !reflect.DeepEqual(l, want) {
			t.Errorf("List = %q, %v; want %q", l, err, want)
		}
		// Past the cap, none of the request is kept.
		if err := b.Block(ctx, juliet, "a@x", "b@x"); !errors.Is(err, ErrLimit) {
			t.Errorf("past the cap: %v", err)
		}
		if l, _ := b.List(ctx, juliet); len(l) != 3 {
			t.Errorf("a refused Block kept some: %q", l)
		}

		for _, tc := range []struct {
			from string
			want bool
		}{
			{"tybalt@example.com", true},
			{"tybalt@example.com/sword", true}, // a bare entry covers every resource
			{"paris@example.com/court", true},
			{"paris@example.com/garden", false}, // a full entry covers that resource only
			{"paris@example.com", false},
			{"spam.example", true}, // a domain entry covers its users
			{"anyone@spam.example", true},
			{"anyone@spam.example/x", true},
			{"romeo@example.net/orchard", false},
			{"example.com", false},
		} {
			if got, err := b.IsBlocked(ctx, juliet, tc.from); err != nil || got != tc.want {
				t.Errorf("IsBlocked(%q) = %v, %v; want %v", tc.from, got, err, tc.want)
			}
		}
		if got, _ := b.IsBlocked(ctx, romeo, "tybalt@example.com"); got {
			t.Error("juliet's list blocks for romeo")
		}

		if err := b.Unblock(ctx, juliet, "spam.example", "never@blocked"); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.IsBlocked(ctx, juliet, "anyone@spam.example"); got {
			t.Error("still blocked after Unblock")
		}
		if n, err := b.UnblockAll(ctx, juliet); err != nil || n != 2 {
			t.Errorf("UnblockAll = %d, %v", n, err)
		}
		if l, err := b.List(ctx, juliet); err != nil || len(l) != 0 {
			t.Errorf("after UnblockAll: %q, %v", l, err)
		}
		if err := b.Block(ctx, juliet, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("empty JID: %v", err)
		}
	})
}

func TestCoveringJIDs(t *testing.T) {
	for _, tc := range []struct {
		jid  string
		want []string
	}{
		{"u@d/r", []string{"u@d/r", "u@d", "d/r", "d"}},
		{"u@d", []string{"u@d", "d"}},
		{"d/r", []string{"d/r", "d"}},
		{"d", []string{"d"}},
		{"u@d/r/with@slash", []string{"u@d/r/with@slash", "u@d", "d/r/with@slash", "d"}},
	} {
		if got := coveringJIDs(tc.jid); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("coveringJIDs(%q) = %q, want %q", tc.jid, got, tc.want)
		}
	}
}

// TestCovers: the in-memory check applies IsBlocked's rule.
func TestCovers(t *testing.T) {
	list := []string{"example.org", "romeo@example.net", "juliet@example.com/balcony", "example.com/chamber"}
	for _, tc := range []struct {
		jid  string
		want bool
	}{
		{"anyone@example.org/x", true},       // the domain
		{"romeo@example.net/phone", true},    // the bare JID
		{"romeo@example.net", true},          //
		{"juliet@example.com/balcony", true}, // that full JID
		{"juliet@example.com/garden", false}, // another resource
		{"juliet@example.com", false},        // the bare JID of a blocked full one
		{"nurse@example.com/chamber", true},  // domain/resource
		{"example.com", false},               //
		{"tybalt@example.net", false},        //
	} {
		if got := Covers(list, tc.jid); got != tc.want {
			t.Errorf("Covers(%q) = %v, want %v", tc.jid, got, tc.want)
		}
	}
}
