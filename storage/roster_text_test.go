package storage

import (
	"slices"
	"testing"
)

// A RosterText's items read one by one are the ones the text holds, in
// contact order whatever order the database aggregated them in, with
// their groups and flags, and the sizes the server sizes its answer by.
func TestRosterTextItems(t *testing.T) {
	const (
		fs, is, gs = fieldSeparator, itemSeparator, groupSeparator
	)
	text := "zed@x" + fs + "Zed" + fs + "" + fs + "to" + fs + "10" + is +
		"amy@x" + fs + "" + fs + "Friends" + gs + "Work" + fs + "both" + fs + "01" + is +
		"kim@x" + fs + "K & co" + fs + "<g>" + fs + "none" + fs + "00"
	rt, err := parseRosterText(text)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Len() != 3 {
		t.Fatalf("Len = %d, want 3", rt.Len())
	}
	type flat struct {
		contact, name, sub string
		ask, approved      bool
		groups             []string
		count, size        int
	}
	want := []flat{
		{"amy@x", "", "both", false, true, []string{"Friends", "Work"}, 2, 11},
		{"kim@x", "K & co", "none", false, false, []string{"<g>"}, 1, 3},
		{"zed@x", "Zed", "to", true, false, nil, 0, 0},
	}
	var got []flat
	for it := range rt.All() {
		got = append(got, flat{it.Contact, it.Name, string(it.Subscription), it.Ask, it.Approved,
			slices.Collect(it.Groups()), it.GroupCount(), 0})
		if it.HasGroups() != (it.GroupCount() > 0) {
			t.Errorf("%s: HasGroups %v with %d groups", it.Contact, it.HasGroups(), it.GroupCount())
		}
	}
	for i := range want {
		if i >= len(got) || !slices.Equal(got[i].groups, want[i].groups) ||
			got[i].contact != want[i].contact || got[i].name != want[i].name || got[i].sub != want[i].sub ||
			got[i].ask != want[i].ask || got[i].approved != want[i].approved ||
			got[i].count != want[i].count {
			t.Errorf("item %d = %+v, want %+v", i, got, want[i])
		}
	}
	// Values: contacts 15, names 9, subscriptions 10, groups 14; three
	// groups; one ask and one approved.
	if rt.ValuesSize() != 48 || rt.GroupCount() != 3 || rt.FlagCount() != 2 {
		t.Errorf("ValuesSize, GroupCount, FlagCount = %d, %d, %d; want 48, 3, 2", rt.ValuesSize(), rt.GroupCount(), rt.FlagCount())
	}
	if items := rt.items(); len(items) != 3 || items[0].Contact != "amy@x" || !slices.Equal(items[0].Groups, want[0].groups) || items[2].Groups != nil {
		t.Errorf("items() = %+v", items)
	}
	if empty, err := parseRosterText(""); err != nil || empty.Len() != 0 || empty.items() != nil {
		t.Errorf(`parseRosterText("") = %+v, %v`, empty, err)
	}
}
