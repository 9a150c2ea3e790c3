package storage

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var testStamp = time.Date(2026, 12, 2, 18, 0, 0, 123456000, time.UTC)

const (
	juliet = "juliet@example.com"
	romeo  = "romeo@example.net"
	nurse  = "nurse@example.com"
)

func TestRosterPutGetDelete(t *testing.T) {
	eachBackend(t, Options{}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		r := st.Rosters()
		empty, err := r.Get(ctx, juliet)
		if err != nil || empty.Version != 0 || len(empty.Items) != 0 {
			t.Fatalf("a new user's roster: %+v, %v", empty, err)
		}
		romeoItem := Item{Contact: romeo, Name: "Romeo ♥", Groups: []string{"Friends", "Montagues"}, Subscription: SubTo, Ask: false}
		nurseItem := Item{Contact: nurse, Subscription: SubNone, Ask: true, Approved: true}
		if v, err := r.Put(ctx, juliet, romeoItem); err != nil || v != 1 {
			t.Fatalf("Put = %d, %v; want version 1", v, err)
		}
		if v, err := r.Put(ctx, juliet, nurseItem); err != nil || v != 2 {
			t.Fatalf("Put = %d, %v; want version 2", v, err)
		}
		got, err := r.Get(ctx, juliet)
		want := Roster{Version: 2, Items: []Item{nurseItem, romeoItem}} // ordered by contact
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Get =\n %+v, %v\nwant\n %+v", got, err, want)
		}
		// Another user's roster is another's.
		if other, err := r.Get(ctx, romeo); err != nil || other.Version != 0 || len(other.Items) != 0 {
			t.Errorf("romeo's roster: %+v, %v", other, err)
		}

		// Update in place.
		romeoItem.Subscription, romeoItem.Groups, romeoItem.Name = SubBoth, nil, ""
		if v, err := r.Put(ctx, juliet, romeoItem); err != nil || v != 3 {
			t.Fatalf("update: %d, %v", v, err)
		}
		if it, err := r.GetItem(ctx, juliet, romeo); err != nil || !reflect.DeepEqual(it, romeoItem) {
			t.Errorf("GetItem = %+v, %v; want %+v", it, err, romeoItem)
		}
		if _, err := r.GetItem(ctx, juliet, "nobody@x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetItem of no item: %v", err)
		}

		if v, err := r.Version(ctx, juliet); err != nil || v != 3 {
			t.Errorf("Version = %d, %v; want 3", v, err)
		}

		// Delete, and the version keeps growing.
		if v, err := r.Delete(ctx, juliet, nurse); err != nil || v != 4 {
			t.Fatalf("Delete = %d, %v", v, err)
		}
		if _, err := r.Delete(ctx, juliet, nurse); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete of no item: %v", err)
		}
		if v, err := r.Version(ctx, juliet); err != nil || v != 4 {
			t.Errorf("a failed Delete changed the version: %d, %v", v, err)
		}
		if v, err := r.Delete(ctx, juliet, romeo); err != nil || v != 5 {
			t.Fatalf("Delete = %d, %v", v, err)
		}
		if ro, err := r.Get(ctx, juliet); err != nil || ro.Version != 5 || len(ro.Items) != 0 {
			t.Errorf("emptied roster: %+v, %v", ro, err)
		}
	})
}

func TestRosterLimits(t *testing.T) {
	eachBackend(t, Options{MaxRosterItems: 3, MaxNameLength: 10, MaxGroupLength: 5, MaxGroupsPerItem: 2}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		r := st.Rosters()
		for i := range 3 {
			if _, err := r.Put(ctx, juliet, Item{Contact: fmt.Sprintf("c%d@x", i), Subscription: SubNone}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := r.Put(ctx, juliet, Item{Contact: "c3@x", Subscription: SubNone})
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "3 items, the most allowed") {
			t.Errorf("fourth item: %v", err)
		}
		// Updating an item at the cap is no new item.
		if _, err := r.Put(ctx, juliet, Item{Contact: "c0@x", Name: "zero", Subscription: SubBoth}); err != nil {
			t.Errorf("update at the cap: %v", err)
		}
		if v, _ := r.Version(ctx, juliet); v != 4 {
			t.Errorf("version %d after 4 changes and a refused one", v)
		}
		for _, tc := range []struct {
			it   Item
			want error
			text string
		}{
			{Item{Contact: "c0@x", Name: "elevenbytes", Subscription: SubNone}, ErrLimit, "item name of 11 bytes, over 10"},
			{Item{Contact: "c0@x", Groups: []string{"sixsix"}, Subscription: SubNone}, ErrLimit, "group name of 6 bytes, over 5"},
			{Item{Contact: "c0@x", Groups: []string{"a", "b", "c"}, Subscription: SubNone}, ErrLimit, "3 groups, over 2"},
			{Item{Contact: "c0@x", Groups: []string{"a", "a"}, Subscription: SubNone}, ErrInvalid, `group "a" given twice`},
			{Item{Contact: "c0@x", Groups: []string{""}, Subscription: SubNone}, ErrInvalid, "empty group name"},
			{Item{Contact: "c0@x", Subscription: "maybe"}, ErrInvalid, `subscription "maybe"`},
			{Item{Contact: "", Subscription: SubNone}, ErrInvalid, "empty contact JID"},
			{Item{Contact: strings.Repeat("x", 3072), Subscription: SubNone}, ErrInvalid, "contact JID of 3072 bytes"},
			{Item{Contact: "c0@x", Name: "\xff", Subscription: SubNone}, ErrInvalid, "item name is not UTF-8 XML text"},
			{Item{Contact: "c0@x", Name: "a\x00b", Subscription: SubNone}, ErrInvalid, "item name is not UTF-8 XML text"},
			{Item{Contact: "c0@x", Groups: []string{"a\x1fb"}, Subscription: SubNone}, ErrInvalid, "group name is not UTF-8 XML text"},
		} {
			_, err := r.Put(ctx, juliet, tc.it)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) || !strings.HasPrefix(err.Error(), "storage: roster put: ") {
				t.Errorf("Put(%+v) = %v; want %v with %q", tc.it, err, tc.want, tc.text)
			}
		}
		if it, _ := r.GetItem(ctx, juliet, "c0@x"); it.Name != "zero" {
			t.Errorf("a refused Put changed the item: %+v", it)
		}
	})
}

func TestRosterRequests(t *testing.T) {
	eachBackend(t, Options{MaxRosterItems: 2}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		r := st.Rosters()
		if reqs, err := r.Requests(ctx, juliet); err != nil || len(reqs) != 0 {
			t.Fatalf("no requests yet: %+v, %v", reqs, err)
		}
		first := Request{Contact: romeo, Stamp: testStamp, Stanza: []byte(`<presence type="subscribe"><status>it's Romeo</status></presence>`)}
		second := Request{Contact: nurse, Stamp: testStamp.Add(time.Second), Stanza: []byte(`<presence type="subscribe"/>`)}
		for _, req := range []Request{second, first} {
			if err := r.AddRequest(ctx, juliet, req); err != nil {
				t.Fatal(err)
			}
		}
		reqs, err := r.Requests(ctx, juliet)
		if err != nil || !reflect.DeepEqual(reqs, []Request{first, second}) {
			t.Fatalf("Requests =\n %+v, %v\nwant oldest first\n %+v", reqs, err, []Request{first, second})
		}
		// At the cap, a request from someone new is refused, a repeated
		// one replaces the earlier.
		if err := r.AddRequest(ctx, juliet, Request{Contact: "third@x", Stamp: testStamp}); !errors.Is(err, ErrLimit) {
			t.Errorf("third request: %v", err)
		}
		again := Request{Contact: romeo, Stamp: testStamp.Add(time.Minute), Stanza: []byte(`<presence type="subscribe"><status>again</status></presence>`)}
		if err := r.AddRequest(ctx, juliet, again); err != nil {
			t.Fatal(err)
		}
		if got, err := r.Request(ctx, juliet, romeo); err != nil || !reflect.DeepEqual(got, again) {
			t.Errorf("Request = %+v, %v; want %+v", got, err, again)
		}
		// Requests are not roster items and do not change the version.
		if ro, err := r.Get(ctx, juliet); err != nil || ro.Version != 0 || len(ro.Items) != 0 {
			t.Errorf("requests showed in the roster: %+v, %v", ro, err)
		}
		if ok, err := r.DeleteRequest(ctx, juliet, romeo); err != nil || !ok {
			t.Errorf("DeleteRequest = %v, %v", ok, err)
		}
		if ok, err := r.DeleteRequest(ctx, juliet, romeo); err != nil || ok {
			t.Errorf("DeleteRequest again = %v, %v", ok, err)
		}
		if _, err := r.Request(ctx, juliet, romeo); !errors.Is(err, ErrNotFound) {
			t.Errorf("Request after delete: %v", err)
		}
	})
}

// Concurrent changes to one roster each get a version of their own, and
// none is lost.
func TestRosterConcurrentWriters(t *testing.T) {
	eachBackend(t, Options{}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		r := st.Rosters()
		const writers, each = 8, 10
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			versions = map[int64]bool{}
		)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					v, err := r.Put(ctx, juliet, Item{Contact: fmt.Sprintf("w%d-%d@x", w, i), Subscription: SubBoth})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if versions[v] {
						t.Errorf("version %d given twice", v)
					}
					versions[v] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		ro, err := r.Get(ctx, juliet)
		if err != nil || ro.Version != writers*each || len(ro.Items) != writers*each {
			t.Errorf("after %d puts: version %d, %d items, %v", writers*each, ro.Version, len(ro.Items), err)
		}
	})
}

// Get reads a roster as one aggregated text: every field must come back as
// it was stored, whatever XML text it holds, for every flag combination,
// and the items in contact order.
func TestRosterGetEveryField(t *testing.T) {
	eachBackend(t, Options{}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		r := st.Rosters()
		names := []string{"", "tab\there", "line\nbreak\r", "Ünïcødé ♥ 😀", "'quotes' & \"<markup>\"", "  spaces  ", "a,b;c|d"}
		var want []Item
		for i, name := range names {
			for flags := range 4 {
				it := Item{
					Contact:      fmt.Sprintf("c%d-%d@example.org", len(names)-i, flags), // stored out of order
					Name:         name,
					Subscription: []Subscription{SubNone, SubTo, SubFrom, SubBoth}[(i+flags)%4],
					Ask:          flags&1 != 0,
					Approved:     flags&2 != 0,
				}
				if i%3 != 0 {
					it.Groups = []string{"Friends", name + "!", fmt.Sprintf("G%d", i)}
				}
				if _, err := r.Put(ctx, juliet, it); err != nil {
					t.Fatal(err)
				}
				want = append(want, it)
			}
		}
		got, err := r.Get(ctx, juliet)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Items) != len(want) || got.Version != int64(len(want)) {
			t.Fatalf("Get: version %d, %d items; want %d, %d", got.Version, len(got.Items), len(want), len(want))
		}
		for i, it := range got.Items {
			if i > 0 && got.Items[i-1].Contact >= it.Contact {
				t.Errorf("items out of order: %q before %q", got.Items[i-1].Contact, it.Contact)
			}
			one, err := r.GetItem(ctx, juliet, it.Contact)
			if err != nil || !reflect.DeepEqual(it, one) {
				t.Errorf("Get has\n %+v\nGetItem has\n %+v, %v", it, one, err)
			}
		}
		for _, w := range want {
			if !slicesContainsItem(got.Items, w) {
				t.Errorf("stored %+v, not read back", w)
			}
		}
	})
}

func slicesContainsItem(items []Item, want Item) bool {
	for _, it := range items {
		if reflect.DeepEqual(it, want) {
			return true
		}
	}
	return false
}

// The aggregated text's separators are control characters: no JID may
// hold one, and a damaged text is an error, not a panic or a wrong item.
func TestRosterSeparatorsNeverStored(t *testing.T) {
	eachBackend(t, Options{}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		for _, c := range []string{"a\x1eb@x", "a\x1db@x", "a\x1fb@x", "a\x00b@x", "a\x7fb@x"} {
			if _, err := st.Rosters().Put(ctx, juliet, Item{Contact: c, Subscription: SubNone}); !errors.Is(err, ErrInvalid) {
				t.Errorf("Put of contact %q: %v; want ErrInvalid", c, err)
			}
		}
	})
	for _, bad := range []string{"c@x", "c@x\x1en\x1eg\x1enone", "c@x\x1en\x1eg\x1enone\x1e2", "c@x\x1en\x1eg\x1ewho\x1e00", "c@x\x1en\x1eg\x1enone\x1e000"} {
		if items, err := decodeItems(bad); err == nil {
			t.Errorf("decodeItems(%q) = %+v, no error", bad, items)
		}
	}
}
