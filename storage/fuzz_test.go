package storage

import (
	"reflect"
	"strings"
	"testing"
)

// Groups a client sends are stored joined by one separator and split when
// read: whatever checkItem accepts must come back as it was.
func FuzzGroupsRoundTrip(f *testing.F) {
	f.Add("Friends", "Family")
	f.Add("", "x")
	f.Add("a\x1fb", "c")
	f.Add("Ünïcødé ♥", "tab\there")
	f.Fuzz(func(t *testing.T, a, b string) {
		groups := []string{a, b}
		r := Rosters{&Store{lim: Options{}.limits()}}
		if err := r.checkItem(Item{Contact: "c@x", Groups: groups, Subscription: SubNone}); err != nil {
			return // refused: never stored
		}
		var it Item
		if err := fillItem(&it, strings.Join(groups, groupSeparator), "none", false, false); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(it.Groups, groups) {
			t.Fatalf("stored %q, read %q", groups, it.Groups)
		}
	})
}

// coveringJIDs takes the sender's JID off the wire (after preparation):
// it must not panic, must list the JID itself first, and every entry must
// be the JID or a shorter form of it.
func FuzzCoveringJIDs(f *testing.F) {
	for _, s := range []string{"u@d/r", "d", "@", "/", "u@d/r/x@y", "", "a@b@c/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, jid string) {
		c := coveringJIDs(jid)
		if len(c) == 0 || c[0] != jid {
			t.Fatalf("coveringJIDs(%q) = %q", jid, c)
		}
		seen := map[string]bool{}
		for _, e := range c {
			if seen[e] {
				t.Fatalf("coveringJIDs(%q) lists %q twice", jid, e)
			}
			seen[e] = true
			if len(e) > len(jid) {
				t.Fatalf("coveringJIDs(%q) has the longer %q", jid, e)
			}
		}
	})
}
