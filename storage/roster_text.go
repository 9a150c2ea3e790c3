package storage

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// RosterText is a user's roster at one version kept as the text the
// database aggregated its items into (rosterGet), with where each item
// starts: one string and four bytes an item, instead of an Item, its
// strings and its groups' slice per item. Items are read from it on demand,
// without allocating; the text was checked whole when it was read, so
// reading an item cannot fail. A RosterText is never changed once read and
// may be shared between goroutines.
type RosterText struct {
	// Version is the roster's XEP-0237 version, as Roster's.
	Version int64
	text    string
	starts  []uint32 // where each item's record starts in text, in contact order
	groups  int      // the items' groups together
	flags   int      // the items' ask and approved that are set together
}

// Len is the number of items.
func (rt RosterText) Len() int { return len(rt.starts) }

// ValuesSize is the bytes of the items' values together: contacts, names,
// subscriptions and group names, as the text holds them (unescaped).
func (rt RosterText) ValuesSize() int {
	if rt.Len() == 0 {
		return 0
	}
	// Each record: four field separators and two digits; between records
	// an item separator; between an item's groups a group separator.
	seps := (rt.Len()-1)*len(itemSeparator) + rt.Len()*(4*len(fieldSeparator)+2)
	grouped := strings.Count(rt.text, groupSeparator) * len(groupSeparator)
	return len(rt.text) - seps - grouped
}

// GroupCount is the number of the items' groups together.
func (rt RosterText) GroupCount() int { return rt.groups }

// FlagCount is the number of ask and approved flags set over all items.
func (rt RosterText) FlagCount() int { return rt.flags }

// Item returns the i-th item in contact order, 0 <= i < Len.
func (rt RosterText) Item(i int) ItemText {
	// The record runs to the next item separator; its four fields are
	// found before it and ask and approved are the two bytes after them
	// (parseRosterText checked both), so there is no need to find its end.
	rec := rt.text[rt.starts[i]:]
	var f [4]string
	for k := range f {
		f[k], rec, _ = strings.Cut(rec, fieldSeparator)
	}
	return ItemText{Contact: f[0], Name: f[1], groups: f[2], Subscription: Subscription(f[3]),
		Ask: rec[0] == '1', Approved: rec[1] == '1'}
}

// All yields the items in contact order.
func (rt RosterText) All() iter.Seq[ItemText] {
	return func(yield func(ItemText) bool) {
		for i := range rt.starts {
			if !yield(rt.Item(i)) {
				return
			}
		}
	}
}

// ItemText is one item of a RosterText: Item with its groups left joined
// in the text. Its strings are slices of the roster's text.
type ItemText struct {
	Contact      string
	Name         string
	Subscription Subscription
	Ask          bool
	Approved     bool
	groups       string // joined with groupSeparator; "" for none
}

// HasGroups reports whether the item is in any group.
func (it ItemText) HasGroups() bool { return it.groups != "" }

// Groups yields the item's groups in the order given.
func (it ItemText) Groups() iter.Seq[string] {
	return func(yield func(string) bool) {
		if it.groups == "" {
			return
		}
		for g := range strings.SplitSeq(it.groups, groupSeparator) {
			if !yield(g) {
				return
			}
		}
	}
}

// GroupCount is the number of the item's groups.
func (it ItemText) GroupCount() int {
	if it.groups == "" {
		return 0
	}
	return strings.Count(it.groups, groupSeparator) + 1
}

// parseRosterText checks rosterGet's text and finds where its items start.
// Every record must have its five fields, a known subscription and ask and
// approved as two digits: what Item relies on.
func parseRosterText(agg string) (RosterText, error) {
	rt := RosterText{text: agg}
	if agg == "" {
		return rt, nil
	}
	if uint64(len(agg)) > 1<<32-1 {
		return RosterText{}, fmt.Errorf("roster text of %d bytes", len(agg))
	}
	rt.starts = make([]uint32, 0, strings.Count(agg, itemSeparator)+1)
	start := 0
	for rec := range strings.SplitSeq(agg, itemSeparator) {
		var contact, groups, sub string
		rest := rec
		for i := range 4 {
			var f string
			var ok bool
			if f, rest, ok = strings.Cut(rest, fieldSeparator); !ok {
				return RosterText{}, fmt.Errorf("roster text: an item of %d fields, not 5", i+1)
			}
			switch i {
			case 0:
				contact = f
			case 2:
				groups = f
			case 3:
				sub = f
			}
		}
		if len(rest) != 2 || rest[0]|1 != '1' || rest[1]|1 != '1' {
			return RosterText{}, fmt.Errorf("item %q: ask and approved columns hold %q", contact, rest)
		}
		if !Subscription(sub).valid() {
			return RosterText{}, fmt.Errorf("item %q: subscription column holds %q", contact, sub)
		}
		if groups != "" {
			rt.groups += strings.Count(groups, groupSeparator) + 1
		}
		rt.flags += int(rest[0]-'0') + int(rest[1]-'0')
		rt.starts = append(rt.starts, uint32(start))
		start += len(rec) + len(itemSeparator)
	}
	// Usually sorted already (the primary key's order), which the check
	// finds in one pass.
	byContact := func(a, b uint32) int { return cmp.Compare(rt.contactAt(a), rt.contactAt(b)) }
	if !slices.IsSortedFunc(rt.starts, byContact) {
		slices.SortFunc(rt.starts, byContact)
	}
	return rt, nil
}

// contactAt is the contact of the record starting at start.
func (rt RosterText) contactAt(start uint32) string {
	rec := rt.text[start:]
	contact, _, _ := strings.Cut(rec, fieldSeparator)
	return contact
}

// items decodes every item into Items sharing one array of groups (each
// capped, so that appending to one cannot write over the next).
func (rt RosterText) items() []Item {
	if rt.Len() == 0 {
		return nil
	}
	items := make([]Item, 0, rt.Len())
	groups := make([]string, 0, strings.Count(rt.text, groupSeparator)+rt.Len())
	for it := range rt.All() {
		item := Item{Contact: it.Contact, Name: it.Name, Subscription: it.Subscription, Ask: it.Ask, Approved: it.Approved}
		if it.HasGroups() {
			start := len(groups)
			groups = slices.AppendSeq(groups, it.Groups())
			item.Groups = groups[start:len(groups):len(groups)]
		}
		items = append(items, item)
	}
	return items
}
