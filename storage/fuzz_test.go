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

// rosterGet's text, as the database builds it, read back by decodeItems:
// whatever checkItem accepts must come back as it was, and no text at all
// may make decodeItems panic.
func FuzzDecodeItems(f *testing.F) {
	f.Add("Romeo ♥", "Friends", "Montagues", "both", true, false, "c@x\x1en\x1eg\x1enone\x1e00")
	f.Add("", "", "", "none", false, true, "")
	f.Add("tab\there", "a\x1eb", "c", "to", true, true, "\x1d\x1d")
	f.Fuzz(func(t *testing.T, name, g1, g2, sub string, ask, approved bool, raw string) {
		decodeItems(raw) // must not panic

		var groups []string
		for _, g := range []string{g1, g2} {
			if g != "" {
				groups = append(groups, g)
			}
		}
		r := Rosters{&Store{lim: Options{}.limits()}}
		it := Item{Contact: "c@example.org", Name: name, Groups: groups, Subscription: Subscription(sub), Ask: ask, Approved: approved}
		if r.checkItem(it) != nil {
			return // refused: never stored
		}
		flag := func(b bool) string {
			if b {
				return "1"
			}
			return "0"
		}
		rec := strings.Join([]string{it.Contact, it.Name, strings.Join(it.Groups, groupSeparator), sub, flag(ask) + flag(approved)}, fieldSeparator)
		other := Item{Contact: "b@example.org", Subscription: SubNone}
		text := strings.Join([]string{rec, "b@example.org" + strings.Repeat(fieldSeparator, 3) + "none" + fieldSeparator + "00"}, itemSeparator)
		got, err := decodeItems(text)
		if err != nil {
			t.Fatalf("decodeItems(%q): %v", text, err)
		}
		want := []Item{other, it} // sorted by contact
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeItems(%q) =\n %+v\nwant\n %+v", text, got, want)
		}
	})
}
