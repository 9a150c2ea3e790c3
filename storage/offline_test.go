package storage

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOfflineQueue(t *testing.T) {
	eachBackend(t, Options{MaxOfflineMessages: 3}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		o := st.Offline()
		var ids []int64
		for i := range 3 {
			// Stamps out of order: delivery follows arrival, not stamps.
			id, err := o.Store(ctx, juliet, romeo+"/orchard", testStamp.Add(-time.Duration(i)*time.Hour), []byte(fmt.Sprintf("<message><body>%d</body></message>", i)))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		_, err := o.Store(ctx, juliet, romeo+"/orchard", testStamp, []byte("<message/>"))
		if !errors.Is(err, ErrLimit) || err.Error() != "storage: offline store: limit reached: 3 offline messages are waiting, the most allowed" {
			t.Errorf("past the cap: %v", err)
		}
		if _, err := o.Store(ctx, romeo, juliet+"/balcony", testStamp, []byte("<message/>")); err != nil {
			t.Errorf("another user's queue is full too: %v", err)
		}
		if n, err := o.Count(ctx, juliet); err != nil || n != 3 {
			t.Errorf("Count = %d, %v", n, err)
		}

		msgs, err := o.Fetch(ctx, juliet, 0)
		if err != nil || len(msgs) != 3 {
			t.Fatalf("Fetch = %d messages, %v", len(msgs), err)
		}
		for i, m := range msgs {
			want := fmt.Sprintf("<message><body>%d</body></message>", i)
			if m.ID != ids[i] || string(m.Stanza) != want || m.From != romeo+"/orchard" || !m.Stamp.Equal(testStamp.Add(-time.Duration(i)*time.Hour)) {
				t.Errorf("message %d = %+v (%s); want ID %d, %s", i, m, m.Stanza, ids[i], want)
			}
		}
		if two, err := o.Fetch(ctx, juliet, 2); err != nil || len(two) != 2 || two[1].ID != ids[1] {
			t.Errorf("Fetch(2) = %+v, %v", two, err)
		}

		// Another user's IDs are not juliet's to delete.
		romeos, _ := o.Fetch(ctx, romeo, 0)
		if n, err := o.Delete(ctx, juliet, romeos[0].ID); err != nil || n != 0 {
			t.Errorf("deleting romeo's message as juliet: %d, %v", n, err)
		}
		if n, err := o.Delete(ctx, juliet, ids[0], ids[1]); err != nil || n != 2 {
			t.Errorf("Delete = %d, %v", n, err)
		}
		if left, err := o.Fetch(ctx, juliet, 0); err != nil || len(left) != 1 || left[0].ID != ids[2] {
			t.Errorf("after Delete: %+v, %v", left, err)
		}
		// Room again under the cap, and the new message comes last.
		id, err := o.Store(ctx, juliet, nurse, testStamp, []byte("<message><body>late</body></message>"))
		if err != nil || id <= ids[2] {
			t.Fatalf("Store after Delete = %d, %v", id, err)
		}
		if n, err := o.Delete(ctx, juliet); err != nil || n != 0 {
			t.Errorf("Delete of nothing: %d, %v", n, err)
		}
	})
}

// Many senders storing at once: every acknowledged message is there once,
// each sender's in the order it sent them.
func TestOfflineConcurrentWriters(t *testing.T) {
	eachBackend(t, Options{}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		o := st.Offline()
		const senders, each = 8, 25
		var wg sync.WaitGroup
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if _, err := o.Store(ctx, juliet, fmt.Sprintf("s%d@x", s), testStamp, []byte(fmt.Sprint(i))); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		// Readers beside the writers.
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					if _, err := o.Fetch(ctx, juliet, 0); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		msgs, err := o.Fetch(ctx, juliet, 0)
		if err != nil || len(msgs) != senders*each {
			t.Fatalf("%d messages, %v; want %d", len(msgs), err, senders*each)
		}
		next := map[string]int{}
		for _, m := range msgs {
			if string(m.Stanza) != fmt.Sprint(next[m.From]) {
				t.Fatalf("from %s: message %s where %d was next", m.From, m.Stanza, next[m.From])
			}
			next[m.From]++
		}
	})
}

// Stores that arrive together are committed together: every one still gets
// its own answer (an ID, or ErrLimit past its user's cap), and each
// sender's messages keep their order.
func TestOfflineConcurrentStores(t *testing.T) {
	eachBackend(t, Options{MaxOfflineMessages: 30}, func(t *testing.T, st *Store) {
		ctx := ctxFor(t)
		o := st.Offline()
		const senders, each = 8, 10
		users := []string{juliet, nurse}
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			stored = map[string]int{}
			limits = map[string]int{}
		)
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user := users[s%2]
				for i := range each {
					_, err := o.Store(ctx, user, fmt.Sprintf("s%d@example.org", s), testStamp, []byte(fmt.Sprintf("%d", i)))
					mu.Lock()
					switch {
					case err == nil:
						stored[user]++
					case errors.Is(err, ErrLimit):
						limits[user]++
					default:
						t.Errorf("store: %v", err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for _, u := range users {
			if stored[u] != 30 || limits[u] != 10 {
				t.Errorf("%s: %d stored, %d refused; want 30 and 10", u, stored[u], limits[u])
			}
			msgs, err := o.Fetch(ctx, u, 0)
			if err != nil || len(msgs) != 30 {
				t.Fatalf("%s: %d messages, %v", u, len(msgs), err)
			}
			next := map[string]int{}
			for _, m := range msgs {
				if string(m.Stanza) != fmt.Sprint(next[m.From]) {
					t.Errorf("%s: from %s, message %s where %d was next", u, m.From, m.Stanza, next[m.From])
				}
				next[m.From]++
			}
		}
	})
}

func TestOfflineStoreAfterClose(t *testing.T) {
	st := openStore(t, backendOptions(t, BackendSQLite, Options{}))
	st.Close()
	// Refused at once as closed, not left waiting for its deadline.
	if _, err := st.Offline().Store(ctxFor(t), juliet, romeo, testStamp, []byte("<message/>")); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("a store after Close: %v; want the store is closed", err)
	}
}
