package server_test

import (
	"fmt"
	"testing"

	"github.com/xtokend/xtokend/server/servertest"
	"github.com/xtokend/xtokend/storage"
)

// BenchmarkLoginRoster: a login as a roster client does it (bind, roster
// get, initial presence, a ping to know the server is done) and a logout,
// with storage off, an empty roster, and 100 contacts of whom 10 are
// online with a mutual subscription (their presence comes back at login,
// the user's goes to them). Compare the three beside each other.
func BenchmarkLoginRoster(b *testing.B) {
	for _, tc := range []struct {
		name             string
		stored           bool
		contacts, online int
	}{
		{"storage-off", false, 0, 0},
		{"empty-roster", true, 0, 0},
		{"100-items-10-online", true, 100, 10},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var opts servertest.Options
			if tc.stored {
				o := storage.DefaultOptions()
				opts.Storage = &o
			}
			ts := servertest.Start(b, opts)
			if tc.contacts > 0 {
				setup := login(b, ts, "alice@localhost", "setup", loginOpts{})
				for i := range tc.contacts {
					c := fmt.Sprintf("contact%d@localhost", i)
					iqReply(setup, "s", `<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='%s' name='Contact %d'><group>Friends</group></item></query></iq>`, c, i)
					if i < tc.online {
						setup.send(`<presence type='subscribed' to='%s'/>`, c) // pre-approved
						peer := login(b, ts, c, "", loginOpts{})
						peer.send(`<presence/><presence type='subscribe' to='alice@localhost'/><presence type='subscribed' to='alice@localhost'/>`)
						setup.send(`<presence type='subscribe' to='%s'/>`, c)
						peer.ping("sync")
					}
				}
				setup.close()
			}
			b.ReportAllocs()
			for b.Loop() {
				c := login(b, ts, "alice@localhost", "", loginOpts{})
				if tc.stored {
					iqReply(c, "r", `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
				}
				c.send(`<presence/>`)
				c.ping("done")
				c.close()
			}
		})
	}
}

// BenchmarkMessageStorage is BenchmarkMessage with storage on: what the
// block list checks of every message between two users cost.
func BenchmarkMessageStorage(b *testing.B) {
	o := storage.DefaultOptions()
	ts := servertest.Start(b, servertest.Options{Storage: &o})
	alice := login(b, ts, "alice@localhost", "", loginOpts{})
	bob := login(b, ts, "bob@localhost", "", loginOpts{})
	bob.send("<presence/>")
	bob.ping("sync")
	b.ReportAllocs()
	for b.Loop() {
		alice.send(`<message to='bob@localhost' type='chat'><body>hello</body></message>`)
		bob.nextMatching(isMessage)
	}
}
