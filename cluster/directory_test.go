package cluster

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// directoryStep is a frame from a peer's link, whether the directory
// refuses it, and the bindings of a@x after it.
type directoryStep struct {
	f       frame
	wantErr bool
	want    []Binding
}

// applySteps applies each step's frame as arriving on l and checks the
// outcome.
func applySteps(t *testing.T, d *directory, l *inLink, steps []directoryStep) {
	t.Helper()
	for i, st := range steps {
		_, err := d.apply(l, st.f)
		if (err != nil) != st.wantErr {
			t.Fatalf("step %d: err %v", i, err)
		}
		var got []Binding
		for _, p := range d.bindings("a@x") {
			got = append(got, Binding{JID: p.jid, Node: p.node, Available: p.available, Priority: p.priority})
		}
		slices.SortFunc(got, func(a, b Binding) int { return strings.Compare(a.JID, b.JID) })
		if !reflect.DeepEqual(got, st.want) {
			t.Fatalf("step %d: bindings %v, want %v", i, got, st.want)
		}
	}
}

func TestDirectoryApply(t *testing.T) {
	d := newDirectory()
	l := &inLink{peer: "n2", instance: [16]byte{1}}
	steps := []directoryStep{
		{frame{kind: kindSession, version: 1, bound: true, jid: "a@x/1"}, true, nil}, // before a snapshot
		{frame{kind: kindSessions, version: 2, sessions: []session{{jid: "a@x/1", at: 1}, {jid: "b@x/1", at: 1}}}, false, []Binding{{JID: "a@x/1", Node: "n2"}}},
		{frame{kind: kindSession, version: 3, bound: true, jid: "a@x/2"}, false, []Binding{{JID: "a@x/1", Node: "n2"}, {JID: "a@x/2", Node: "n2"}}},
		{frame{kind: kindSession, version: 3, bound: false, jid: "a@x/2"}, false, []Binding{{JID: "a@x/1", Node: "n2"}, {JID: "a@x/2", Node: "n2"}}}, // seen: ignored
		{frame{kind: kindSession, version: 4, bound: false, jid: "a@x/1"}, false, []Binding{{JID: "a@x/2", Node: "n2"}}},
		{frame{kind: kindSession, version: 6, bound: true, jid: "a@x/3"}, true, []Binding{{JID: "a@x/2", Node: "n2"}}},                    // gap
		{frame{kind: kindSessions, version: 1, sessions: []session{{jid: "a@x/9", at: 1}}}, false, []Binding{{JID: "a@x/2", Node: "n2"}}}, // older snapshot
		{frame{kind: kindSessions, version: 9, sessions: []session{{jid: "a@x/9", at: 1}}}, false, []Binding{{JID: "a@x/9", Node: "n2"}}},
	}
	applySteps(t, d, l, steps)
	// A restarted peer (new instance) replaces the old one's sessions.
	l2 := &inLink{peer: "n2", instance: [16]byte{2}}
	if _, err := d.apply(l2, frame{kind: kindSessions, version: 0, sessions: []session{{jid: "c@x/1", at: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.lookup("a@x/9"); ok {
		t.Fatal("old instance's session survived")
	}
	if p, ok := d.lookup("c@x/1"); !ok || p.node != "n2" {
		t.Fatal("new instance's session missing")
	}
	// A node that leaves takes its sessions; its old links are stale.
	d.drop("n2")
	if _, ok := d.lookup("c@x/1"); ok {
		t.Fatal("session of a dropped node survived")
	}
	if _, err := d.apply(l2, frame{kind: kindSessions, version: 1, sessions: []session{{jid: "c@x/1", at: 1}}}); err == nil {
		t.Fatal("a link from before the drop was listened to")
	}
	if len(d.byBare) != 0 {
		t.Fatalf("index not emptied: %v", d.byBare)
	}
}

func TestDirectoryConflictKeepsBoth(t *testing.T) {
	d := newDirectory()
	a := &inLink{peer: "a", instance: [16]byte{1}}
	b := &inLink{peer: "b", instance: [16]byte{2}}
	d.apply(a, frame{kind: kindSessions, sessions: []session{{jid: "x@h/r", at: 10}}})
	bound, _ := d.apply(b, frame{kind: kindSessions, sessions: []session{{jid: "x@h/r", at: 20}}})
	if len(bound) != 1 || bound[0] != (session{jid: "x@h/r", at: 20}) {
		t.Fatalf("bound %v", bound)
	}
	if p, _ := d.lookup("x@h/r"); p.node != "b" {
		t.Fatalf("lookup picked %v, want the newer, b", p)
	}
	// The older one unbinding leaves the newer in place, whatever the order
	// the binds arrived in.
	d.apply(a, frame{kind: kindSession, version: 1, jid: "x@h/r"})
	if p, ok := d.lookup("x@h/r"); !ok || p.node != "b" {
		t.Fatalf("after a's unbind: %v %v", p, ok)
	}
	d.apply(b, frame{kind: kindSession, version: 1, jid: "x@h/r"})
	if _, ok := d.lookup("x@h/r"); ok || len(d.byBare) != 0 {
		t.Fatal("binding survived both unbinds")
	}
}

// TestDirectoryAvailability: a session's availability comes with the
// snapshot and with availability frames numbered among binds and unbinds;
// one for a session not bound is a peer out of step.
func TestDirectoryAvailability(t *testing.T) {
	d := newDirectory()
	l := &inLink{peer: "n2", instance: [16]byte{1}}
	avail := func(prio int8) presence { return presence{available: true, priority: prio} }
	steps := []directoryStep{
		{frame{kind: kindSessions, version: 1, sessions: []session{{jid: "a@x/1", at: 1, presence: avail(-1)}}}, false,
			[]Binding{{JID: "a@x/1", Node: "n2", Available: true, Priority: -1}}},
		{frame{kind: kindSession, version: 2, bound: true, jid: "a@x/2", at: 2}, false,
			[]Binding{{JID: "a@x/1", Node: "n2", Available: true, Priority: -1}, {JID: "a@x/2", Node: "n2"}}},
		{frame{kind: kindAvailability, version: 3, jid: "a@x/2", avail: avail(5)}, false,
			[]Binding{{JID: "a@x/1", Node: "n2", Available: true, Priority: -1}, {JID: "a@x/2", Node: "n2", Available: true, Priority: 5}}},
		{frame{kind: kindAvailability, version: 3, jid: "a@x/2"}, false, // seen: ignored
			[]Binding{{JID: "a@x/1", Node: "n2", Available: true, Priority: -1}, {JID: "a@x/2", Node: "n2", Available: true, Priority: 5}}},
		{frame{kind: kindAvailability, version: 4, jid: "a@x/1"}, false,
			[]Binding{{JID: "a@x/1", Node: "n2"}, {JID: "a@x/2", Node: "n2", Available: true, Priority: 5}}},
		{frame{kind: kindSession, version: 5, bound: false, jid: "a@x/2"}, false,
			[]Binding{{JID: "a@x/1", Node: "n2"}}},
		{frame{kind: kindAvailability, version: 6, jid: "a@x/2", avail: avail(0)}, true, // not bound
			[]Binding{{JID: "a@x/1", Node: "n2"}}},
		{frame{kind: kindAvailability, version: 8, jid: "a@x/1", avail: avail(0)}, true, // gap
			[]Binding{{JID: "a@x/1", Node: "n2"}}},
	}
	applySteps(t, d, l, steps)
}

// missing names the nodes whose snapshot the directory lacks, and its
// channel is closed when that changes: a snapshot taken, a node dropped.
func TestDirectoryMissing(t *testing.T) {
	d := newDirectory()
	l := &inLink{peer: "n2", instance: [16]byte{1}}
	missing, synced := d.missing([]string{"n2", "n3"})
	if !slices.Equal(missing, []string{"n2", "n3"}) {
		t.Fatalf("missing before any snapshot: %v", missing)
	}
	if _, err := d.apply(l, frame{kind: kindSessions, version: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-synced:
	default:
		t.Fatal("a snapshot taken did not close the channel")
	}
	missing, synced = d.missing([]string{"n2", "n3"})
	if !slices.Equal(missing, []string{"n3"}) {
		t.Fatalf("missing after n2's snapshot: %v", missing)
	}
	d.drop("n3")
	select {
	case <-synced:
	default:
		t.Fatal("a node dropped did not close the channel")
	}
}
