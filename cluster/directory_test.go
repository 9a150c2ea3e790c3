package cluster

import (
	"reflect"
	"testing"
)

func TestDirectoryApply(t *testing.T) {
	d := newDirectory()
	l := &inLink{peer: "n2", instance: [16]byte{1}}
	steps := []struct {
		f       frame
		wantErr bool
		want    []Binding // bindings of a@x after the step
	}{
		{frame{kind: kindSession, version: 1, bound: true, jid: "a@x/1"}, true, nil}, // before a snapshot
		{frame{kind: kindSessions, version: 2, jids: []string{"a@x/1", "b@x/1"}}, false, []Binding{{"a@x/1", "n2"}}},
		{frame{kind: kindSession, version: 3, bound: true, jid: "a@x/2"}, false, []Binding{{"a@x/1", "n2"}, {"a@x/2", "n2"}}},
		{frame{kind: kindSession, version: 3, bound: false, jid: "a@x/2"}, false, []Binding{{"a@x/1", "n2"}, {"a@x/2", "n2"}}}, // seen: ignored
		{frame{kind: kindSession, version: 4, bound: false, jid: "a@x/1"}, false, []Binding{{"a@x/2", "n2"}}},
		{frame{kind: kindSession, version: 6, bound: true, jid: "a@x/3"}, true, []Binding{{"a@x/2", "n2"}}}, // gap
		{frame{kind: kindSessions, version: 1, jids: []string{"a@x/9"}}, false, []Binding{{"a@x/2", "n2"}}}, // older snapshot
		{frame{kind: kindSessions, version: 9, jids: []string{"a@x/9"}}, false, []Binding{{"a@x/9", "n2"}}},
	}
	for i, st := range steps {
		err := d.apply(l, st.f)
		if (err != nil) != st.wantErr {
			t.Fatalf("step %d: err %v", i, err)
		}
		got := d.bindings("a@x")
		if len(got) > 1 && got[0].JID > got[1].JID {
			got[0], got[1] = got[1], got[0]
		}
		if !reflect.DeepEqual(got, st.want) {
			t.Fatalf("step %d: bindings %v, want %v", i, got, st.want)
		}
	}
	// A restarted peer (new instance) replaces the old one's sessions.
	l2 := &inLink{peer: "n2", instance: [16]byte{2}}
	if err := d.apply(l2, frame{kind: kindSessions, version: 0, jids: []string{"c@x/1"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.lookup("a@x/9"); ok {
		t.Fatal("old instance's session survived")
	}
	if node, ok := d.lookup("c@x/1"); !ok || node != "n2" {
		t.Fatal("new instance's session missing")
	}
	// A node that leaves takes its sessions; its old links are stale.
	d.drop("n2")
	if _, ok := d.lookup("c@x/1"); ok {
		t.Fatal("session of a dropped node survived")
	}
	if err := d.apply(l2, frame{kind: kindSessions, version: 1, jids: []string{"c@x/1"}}); err == nil {
		t.Fatal("a link from before the drop was listened to")
	}
	if len(d.byBare) != 0 {
		t.Fatalf("index not emptied: %v", d.byBare)
	}
}
