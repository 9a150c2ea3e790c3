package server_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/server/servertest"
	"github.com/xtokend/xtokend/storage"
)

// A session keeps the roster it read, but must see a change another writer
// made in the database since (another node, another process): alice reads
// her empty roster, a contact is added behind the server's back, and her
// initial presence must still reach that contact and probe it.
func TestRosterSnapshotSeesOtherWriters(t *testing.T) {
	opts := storage.Options{Backend: storage.BackendSQLite, Path: filepath.Join(t.TempDir(), "shared.db")}
	ts := servertest.Start(t, servertest.Options{Storage: &opts})
	bob := login(t, ts, "bob@localhost", "phone", loginOpts{})
	bob.send(`<presence/>`)
	bob.ping("b1")

	alice := login(t, ts, "alice@localhost", "desk", loginOpts{})
	if got := items(iqReply(alice, "r1", `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)); len(got) != 0 {
		t.Fatalf("alice's roster has %d items before any was added", len(got))
	}

	other, err := storage.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, w := range []struct{ user, contact string }{{"alice@localhost", "bob@localhost"}, {"bob@localhost", "alice@localhost"}} {
		if _, err := other.Rosters().Put(context.Background(), w.user, storage.Item{Contact: w.contact, Subscription: storage.SubBoth}); err != nil {
			t.Fatal(err)
		}
	}

	alice.send(`<presence/>`)
	got := bob.nextMatching(func(e *elem) bool { return isPresence(e) && strings.HasPrefix(e.attr("from"), "alice@localhost") })
	if got.attr("type") != "" {
		t.Errorf("bob got %q presence from alice, want available", got.attr("type"))
	}
	probed := alice.nextMatching(func(e *elem) bool { return isPresence(e) && strings.HasPrefix(e.attr("from"), "bob@localhost") })
	if probed.attr("type") != "" {
		t.Errorf("alice got %q presence from bob, want available", probed.attr("type"))
	}
	// And her next get has the item too.
	if got := items(iqReply(alice, "r2", `<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>`)); got["bob@localhost"] == nil {
		t.Errorf("alice's second get: %v, no bob", got)
	}
}
