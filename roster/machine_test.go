package roster

import (
	"fmt"
	"strings"
	"testing"
)

// states are RFC 6121 Appendix A.1's nine states, by short names, all of
// items in the user's roster.
var states = map[string]State{
	"None":       {Sub: None, InRoster: true},
	"None+Out":   {Sub: None, PendingOut: true, InRoster: true},
	"None+In":    {Sub: None, PendingIn: true, InRoster: true},
	"None+OutIn": {Sub: None, PendingOut: true, PendingIn: true, InRoster: true},
	"To":         {Sub: To, InRoster: true},
	"To+In":      {Sub: To, PendingIn: true, InRoster: true},
	"From":       {Sub: From, InRoster: true},
	"From+Out":   {Sub: From, PendingOut: true, InRoster: true},
	"Both":       {Sub: Both, InRoster: true},
}

// row is one line of an Appendix A table: "Before -> After flags", where
// flags are what the server does: fwd (route or deliver), push, store and
// drop (the kept request), presence and unavailable (sent to the contact),
// reply=KIND.
type row string

func (r row) parse(t *testing.T) (before, after State, want Outcome) {
	t.Helper()
	f := strings.Fields(string(r))
	if len(f) < 3 || f[1] != "->" {
		t.Fatalf("bad row %q", r)
	}
	var ok bool
	if before, ok = states[f[0]]; !ok {
		t.Fatalf("row %q: no state %q", r, f[0])
	}
	if after, ok = states[f[2]]; !ok {
		t.Fatalf("row %q: no state %q", r, f[2])
	}
	want.State = after
	for _, flag := range f[3:] {
		switch {
		case flag == "fwd":
			want.Forward = true
		case flag == "push":
			want.Push = true
		case flag == "store":
			want.StoreRequest = true
		case flag == "drop":
			want.DropRequest = true
		case flag == "presence":
			want.SendPresence = true
		case flag == "unavailable":
			want.SendUnavailable = true
		case strings.HasPrefix(flag, "reply="):
			if want.Reply, ok = ParseKind(strings.TrimPrefix(flag, "reply=")); !ok {
				t.Fatalf("row %q: bad reply", r)
			}
		default:
			t.Fatalf("row %q: unknown flag %q", r, flag)
		}
	}
	return before, after, want
}

// Appendix A.2: the user sends the stanza; "fwd" is routing it to the
// contact.
var outbound = map[Kind][]row{
	Subscribe: { // A.2.1
		"None -> None+Out fwd push",
		"None+Out -> None+Out fwd",
		"None+In -> None+OutIn fwd push",
		"None+OutIn -> None+OutIn fwd",
		"To -> To fwd",
		"To+In -> To+In fwd",
		"From -> From+Out fwd push",
		"From+Out -> From+Out fwd",
		"Both -> Both fwd",
	},
	Unsubscribe: { // A.2.2
		"None -> None fwd",
		"None+Out -> None fwd push",
		"None+In -> None+In fwd",
		"None+OutIn -> None+In fwd push",
		"To -> None fwd push",
		"To+In -> None+In fwd push",
		"From -> From fwd",
		"From+Out -> From fwd push",
		"Both -> From fwd push",
	},
	Subscribed: { // A.2.3, without pre-approval
		"None -> None",
		"None+Out -> None+Out",
		"None+In -> From fwd push drop presence",
		"None+OutIn -> From+Out fwd push drop presence",
		"To -> To",
		"To+In -> Both fwd push drop presence",
		"From -> From",
		"From+Out -> From+Out",
		"Both -> Both",
	},
	Unsubscribed: { // A.2.4
		"None -> None",
		"None+Out -> None+Out",
		"None+In -> None fwd drop",
		"None+OutIn -> None+Out fwd drop",
		"To -> To",
		"To+In -> To fwd drop",
		"From -> None fwd push unavailable",
		"From+Out -> None+Out fwd push unavailable",
		"Both -> To fwd push unavailable",
	},
}

// Appendix A.3: the contact sends the stanza; "fwd" is delivering it to
// the user.
var inbound = map[Kind][]row{
	Subscribe: { // A.3.1
		"None -> None+In fwd store",
		"None+Out -> None+OutIn fwd store",
		"None+In -> None+In fwd store", // a repeat replaces the kept one
		"None+OutIn -> None+OutIn fwd store",
		"To -> To+In fwd store",
		"To+In -> To+In fwd store",
		"From -> From reply=subscribed",
		"From+Out -> From+Out reply=subscribed",
		"Both -> Both reply=subscribed",
	},
	Unsubscribe: { // A.3.2
		"None -> None",
		"None+Out -> None+Out",
		"None+In -> None fwd drop",
		"None+OutIn -> None+Out fwd drop",
		"To -> To",
		"To+In -> To fwd drop",
		"From -> None fwd push unavailable",
		"From+Out -> None+Out fwd push unavailable",
		"Both -> To fwd push unavailable",
	},
	Subscribed: { // A.3.3
		"None -> None",
		"None+Out -> To fwd push",
		"None+In -> None+In",
		"None+OutIn -> To+In fwd push",
		"To -> To",
		"To+In -> To+In",
		"From -> From",
		"From+Out -> Both fwd push",
		"Both -> Both",
	},
	Unsubscribed: { // A.3.4
		"None -> None",
		"None+Out -> None fwd push",
		"None+In -> None+In",
		"None+OutIn -> None+In fwd push",
		"To -> None fwd push",
		"To+In -> None+In fwd push",
		"From -> From",
		"From+Out -> From fwd push",
		"Both -> From fwd push",
	},
}

func TestAppendixA(t *testing.T) {
	for _, tc := range []struct {
		name  string
		table map[Kind][]row
		apply func(State, Kind) Outcome
	}{
		{"outbound", outbound, func(s State, k Kind) Outcome { return Outbound(s, k, false) }},
		{"inbound", inbound, Inbound},
	} {
		for _, k := range []Kind{Subscribe, Unsubscribe, Subscribed, Unsubscribed} {
			rows := tc.table[k]
			if len(rows) != len(states) {
				t.Fatalf("%s %s: %d rows, want one per state", tc.name, k, len(rows))
			}
			for _, r := range rows {
				before, _, want := r.parse(t)
				if got := tc.apply(before, k); got != want {
					t.Errorf("%s %s in %s:\n got %s\nwant %s", tc.name, k, before, describe(got), describe(want))
				}
			}
		}
	}
}

// Section 3.4: pre-approval, offered.
func TestPreApproval(t *testing.T) {
	notInRoster := State{}
	// Pre-approving a contact not in the roster makes an item (3.4.1),
	// pushed, not routed.
	o := Outbound(notInRoster, Subscribed, true)
	want := Outcome{State: State{Approved: true, InRoster: true}, Push: true}
	if o != want {
		t.Errorf("pre-approve:\n got %s\nwant %s", describe(o), describe(want))
	}
	// Without the feature, the stanza is ignored.
	if o := Outbound(notInRoster, Subscribed, false); o != (Outcome{State: notInRoster}) {
		t.Errorf("pre-approve, not offered: %s", describe(o))
	}
	// Pre-approving twice changes nothing.
	if o := Outbound(want.State, Subscribed, true); o != (Outcome{State: want.State}) {
		t.Errorf("pre-approve again: %s", describe(o))
	}
	// The request then is granted at once, answered for the user.
	o = Inbound(want.State, Subscribe)
	want = Outcome{State: State{Sub: From, InRoster: true}, Push: true, Reply: Subscribed, SendPresence: true}
	if o != want {
		t.Errorf("request after pre-approval:\n got %s\nwant %s", describe(o), describe(want))
	}
	// Unsubscribed cancels a pre-approval (3.4.2), with a push, unrouted.
	o = Outbound(State{Sub: To, Approved: true, InRoster: true}, Unsubscribed, true)
	want = Outcome{State: State{Sub: To, InRoster: true}, Push: true}
	if o != want {
		t.Errorf("cancel pre-approval:\n got %s\nwant %s", describe(o), describe(want))
	}
}

// A contact not in the user's roster: a request is kept with no item made
// (3.1.3); approving it makes one; a subscribe the user sends makes one.
func TestNotInRoster(t *testing.T) {
	none := State{}
	for _, tc := range []struct {
		name string
		got  Outcome
		want Outcome
	}{
		{"inbound subscribe", Inbound(none, Subscribe),
			Outcome{State: State{PendingIn: true}, Forward: true, StoreRequest: true}},
		{"approve a request", Outbound(State{PendingIn: true}, Subscribed, false),
			Outcome{State: State{Sub: From, InRoster: true}, Forward: true, Push: true, DropRequest: true, SendPresence: true}},
		{"decline a request", Outbound(State{PendingIn: true}, Unsubscribed, false),
			Outcome{State: none, Forward: true, DropRequest: true}},
		{"request withdrawn", Inbound(State{PendingIn: true}, Unsubscribe),
			Outcome{State: none, Forward: true, DropRequest: true}},
		{"outbound subscribe", Outbound(none, Subscribe, false),
			Outcome{State: State{PendingOut: true, InRoster: true}, Forward: true, Push: true}},
		{"stray subscribed", Inbound(none, Subscribed), Outcome{State: none}},
		{"stray unsubscribed", Inbound(none, Unsubscribed), Outcome{State: none}},
		{"unknown kind", Inbound(none, 0), Outcome{State: none}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, describe(tc.got), describe(tc.want))
		}
	}
}

func TestNames(t *testing.T) {
	for _, s := range []Subscription{None, To, From, Both} {
		if got, ok := ParseSubscription(s.String()); !ok || got != s {
			t.Errorf("ParseSubscription(%q) = %v, %v", s, got, ok)
		}
	}
	if _, ok := ParseSubscription("remove"); ok {
		t.Error(`ParseSubscription("remove") ok`)
	}
	for _, k := range []Kind{Subscribe, Subscribed, Unsubscribe, Unsubscribed} {
		if got, ok := ParseKind(k.String()); !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, got, ok)
		}
	}
	if _, ok := ParseKind("probe"); ok {
		t.Error(`ParseKind("probe") ok`)
	}
	if got := (State{Sub: None, PendingOut: true, PendingIn: true, InRoster: true}).String(); got != "None + Pending Out/In" {
		t.Errorf("State.String() = %q", got)
	}
	if got := (State{Sub: To, Approved: true}).String(); got != "To (pre-approved) (not in roster)" {
		t.Errorf("State.String() = %q", got)
	}
}

func describe(o Outcome) string {
	var f []string
	for _, c := range []struct {
		on   bool
		name string
	}{
		{o.Forward, "fwd"}, {o.Push, "push"}, {o.StoreRequest, "store"}, {o.DropRequest, "drop"},
		{o.SendPresence, "presence"}, {o.SendUnavailable, "unavailable"},
	} {
		if c.on {
			f = append(f, c.name)
		}
	}
	if o.Reply != 0 {
		f = append(f, "reply="+o.Reply.String())
	}
	return fmt.Sprintf("%s [%s]", o.State, strings.Join(f, " "))
}

// From every valid state, every stanza leads to a valid state: no pending
// out beside "to", no pending in or pre-approval beside "from", and an item
// pushed only when there is one.
func TestOutcomesStayValid(t *testing.T) {
	valid := func(s State) bool {
		return !(s.PendingOut && s.Sub&To != 0) && !(s.PendingIn && s.Sub&From != 0) && !(s.Approved && s.Sub&From != 0) &&
			(s.InRoster || (s.Sub == None && !s.PendingOut && !s.Approved))
	}
	n := 0
	for sub := range Subscription(4) {
		for bits := range 16 {
			s := State{Sub: sub, PendingOut: bits&1 != 0, PendingIn: bits&2 != 0, Approved: bits&4 != 0, InRoster: bits&8 != 0}
			if !valid(s) {
				continue
			}
			n++
			for _, k := range []Kind{Subscribe, Subscribed, Unsubscribe, Unsubscribed} {
				for _, o := range []Outcome{Inbound(s, k), Outbound(s, k, true), Outbound(s, k, false)} {
					if !valid(o.State) {
						t.Errorf("%s in %s gives %s", k, s, o.State)
					}
					if o.Push && !o.State.InRoster {
						t.Errorf("%s in %s pushes an item that is not there", k, s)
					}
					if o.StoreRequest && o.DropRequest {
						t.Errorf("%s in %s both keeps and drops the request", k, s)
					}
				}
			}
		}
	}
	if n < 9 {
		t.Fatalf("only %d valid states", n)
	}
}
