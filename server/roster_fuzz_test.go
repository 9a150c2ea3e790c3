package server

import (
	"bytes"
	"testing"

	"github.com/xtokend/xtokend/storage"
)

// FuzzRosterItems: whatever a client puts in a roster or blocking payload,
// the items read from it, written back as the server writes items, are
// well-formed XML that reads back the same.
func FuzzRosterItems(f *testing.F) {
	for _, s := range []string{
		`<iq type='set' id='1'><query xmlns='jabber:iq:roster'><item jid='b@x' name='B &amp; co'><group>G1</group><group>G&lt;2</group></item></query></iq>`,
		`<iq type='set' id='1'><query xmlns='jabber:iq:roster'><item jid='b@x' subscription='remove'/><item/></query></iq>`,
		`<iq type='set' id='1'><block xmlns='urn:xmpp:blocking'><item jid='b@x/r'/><item jid='x'/></block></iq>`,
		`<iq type='set' id='1'><query xmlns='jabber:iq:roster'><item jid="q'uote"><group><b>nested</b>text</group></item></query><other/></iq>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parse(data)
		if err != nil {
			return
		}
		for _, ns := range []string{nsRoster, nsBlocking} {
			for _, it := range payloadItems(st, ns) {
				in := storage.Item{Contact: it.jid, Name: it.name, Groups: it.groups, Subscription: storage.SubBoth}
				var b bytes.Buffer
				b.WriteString("<iq type='set' id='x'><query xmlns='" + ns + "'>")
				appendRosterItem(&b, in)
				b.WriteString("</query></iq>")
				again, err := parse(b.Bytes())
				if err != nil {
					t.Fatalf("written item does not parse: %v\nin:  %q\nout: %q", err, data, b.Bytes())
				}
				got := payloadItems(again, ns)
				if len(got) != 1 || got[0].jid != it.jid || (it.name != "" && got[0].name != it.name) || len(got[0].groups) != len(it.groups) {
					t.Fatalf("item changed:\nin:  %q\nout: %q\n%+v\n%+v", data, b.Bytes(), it, got)
				}
				for i := range it.groups {
					if got[0].groups[i] != it.groups[i] {
						t.Fatalf("group changed: %q -> %q", it.groups[i], got[0].groups[i])
					}
				}
			}
		}
	})
}
