package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server/adminclient"
	"github.com/xtokend/xtokend/server/servertest"
	"github.com/xtokend/xtokend/storage"
)

// TestAdminRoster: the application sets a mutual subscription through the
// admin API; both users' online resources get the pushes and each other's
// presence at once, and a removal takes both away.
func TestAdminRoster(t *testing.T) {
	o := storage.DefaultOptions()
	ts := servertest.Start(t, servertest.Options{Storage: &o, Configure: func(c *config.Config) {
		c.General.AdminSocket = "xtokend.sock"
	}})
	api := adminclient.New(ts.Config.AdminSocketPath())
	defer api.Close()
	ctx := context.Background()

	alice := login(t, ts, "alice@localhost", "a", loginOpts{})
	bob := login(t, ts, "bob@localhost", "b", loginOpts{})
	for _, c := range []*client{alice, bob} {
		iqReply(c, "r", `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
		c.send(`<presence/>`)
		c.ping("avail")
	}

	it, err := api.PutRosterItem(ctx, "alice@localhost", "bob@localhost", adminclient.RosterItem{Name: "Bob", Groups: []string{"Friends"}, Subscription: "both"})
	if err != nil || it.Subscription != "both" || it.JID != "bob@localhost" {
		t.Fatalf("put: %+v, %v", it, err)
	}
	if p := items(alice.nextMatching(isRosterPush))["bob@localhost"]; p == nil || p.attr("subscription") != "both" || p.attr("name") != "Bob" {
		t.Fatalf("alice's push: %v", p)
	}
	if p := items(bob.nextMatching(isRosterPush))["alice@localhost"]; p == nil || p.attr("subscription") != "both" {
		t.Fatalf("bob's push: %v", p)
	}
	if e := alice.nextMatching(isPresence); e.attr("from") != bob.jid.String() || e.attr("type") != "" {
		t.Errorf("alice got %s", e)
	}
	if e := bob.nextMatching(isPresence); e.attr("from") != alice.jid.String() || e.attr("type") != "" {
		t.Errorf("bob got %s", e)
	}
	ro, err := api.Roster(ctx, "bob@localhost")
	if err != nil || len(ro.Items) != 1 || ro.Items[0].JID != "alice@localhost" || ro.Items[0].Subscription != "both" || ro.Version == 0 {
		t.Fatalf("bob's roster: %+v, %v", ro, err)
	}

	for _, tc := range []struct {
		user, contact, sub string
		status             int
	}{
		{"alice@localhost", "carol@localhost", "sideways", 400},
		{"alice@elsewhere.net", "carol@localhost", "", 404},
		{"alice@localhost", "carol@localhost/phone", "", 400},
		{"alice@localhost", "alice@localhost", "", 400},
	} {
		_, err := api.PutRosterItem(ctx, tc.user, tc.contact, adminclient.RosterItem{Subscription: tc.sub})
		var apiErr *adminclient.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != tc.status {
			t.Errorf("put %s %s %q: %v, want %d", tc.user, tc.contact, tc.sub, err, tc.status)
		}
	}

	if err := api.DeleteRosterItem(ctx, "alice@localhost", "bob@localhost"); err != nil {
		t.Fatal(err)
	}
	if p := items(alice.nextMatching(isRosterPush))["bob@localhost"]; p == nil || p.attr("subscription") != "remove" {
		t.Errorf("alice's push: %v", p)
	}
	if p := items(bob.nextMatching(isRosterPush))["alice@localhost"]; p == nil || p.attr("subscription") != "none" {
		t.Errorf("bob's push: %v", p)
	}
	if e := bob.nextMatching(isPresence); e.attr("from") != alice.jid.String() || e.attr("type") != "unavailable" {
		t.Errorf("bob got %s", e)
	}
	var apiErr *adminclient.APIError
	if err := api.DeleteRosterItem(ctx, "alice@localhost", "bob@localhost"); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("second delete: %v", err)
	}
}
