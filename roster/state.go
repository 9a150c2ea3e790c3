package roster

import "strings"

// Subscription is the subscription part of a state (RFC 6121 section
// 2.1.2.5).
type Subscription uint8

// Subscription values, ordered so that To and From are bits of Both.
const (
	None Subscription = 0
	To   Subscription = 1 // the user receives the contact's presence
	From Subscription = 2 // the contact receives the user's presence
	Both Subscription = To | From
)

func (s Subscription) String() string {
	switch s {
	case None:
		return "none"
	case To:
		return "to"
	case From:
		return "from"
	case Both:
		return "both"
	}
	return "invalid"
}

// ParseSubscription reads the subscription attribute's value ("none", "to",
// "from", "both").
func ParseSubscription(v string) (Subscription, bool) {
	for _, s := range []Subscription{None, To, From, Both} {
		if s.String() == v {
			return s, true
		}
	}
	return None, false
}

// State is what the user's server knows about one contact.
type State struct {
	Sub        Subscription
	PendingOut bool // the user asked for the contact's presence: ask="subscribe"
	PendingIn  bool // the contact asked for the user's presence; the request is kept
	Approved   bool // the user pre-approved a request from the contact
	InRoster   bool // the user's roster has an item for the contact
}

// String is the state's name in RFC 6121 Appendix A, such as
// "None + Pending Out/In", with "(pre-approved)" and "(not in roster)"
// where they apply.
func (s State) String() string {
	var b strings.Builder
	b.WriteString(map[Subscription]string{None: "None", To: "To", From: "From", Both: "Both"}[s.Sub])
	switch {
	case s.PendingOut && s.PendingIn:
		b.WriteString(" + Pending Out/In")
	case s.PendingOut:
		b.WriteString(" + Pending Out")
	case s.PendingIn:
		b.WriteString(" + Pending In")
	}
	if s.Approved {
		b.WriteString(" (pre-approved)")
	}
	if !s.InRoster {
		b.WriteString(" (not in roster)")
	}
	return b.String()
}

// Kind is a subscription stanza's presence type.
type Kind uint8

// Kinds of subscription stanzas. The zero Kind is none: no reply.
const (
	Subscribe    Kind = iota + 1 // ask for the recipient's presence
	Subscribed                   // grant the recipient's request
	Unsubscribe                  // stop receiving the recipient's presence
	Unsubscribed                 // deny or cancel the recipient's subscription
)

func (k Kind) String() string {
	switch k {
	case Subscribe:
		return "subscribe"
	case Subscribed:
		return "subscribed"
	case Unsubscribe:
		return "unsubscribe"
	case Unsubscribed:
		return "unsubscribed"
	}
	return ""
}

// ParseKind reads a presence type; ok is false for one that is not about
// subscriptions.
func ParseKind(v string) (Kind, bool) {
	for _, k := range []Kind{Subscribe, Subscribed, Unsubscribe, Unsubscribed} {
		if k.String() == v {
			return k, true
		}
	}
	return 0, false
}

// Outcome is what a subscription stanza does.
type Outcome struct {
	State State // the state to store
	// Forward: route the stanza to the contact (Outbound) or deliver it
	// to the user's available resources (Inbound). False: the server
	// drops it silently, as RFC 6121 orders for a stanza that changes
	// nothing.
	Forward bool
	// Push: the user's roster item for the contact changed (or was made):
	// push it to the user's interested resources.
	Push bool
	// Reply, when not zero, is the presence type the server sends back
	// to the contact on the user's behalf (Inbound only).
	Reply Kind
	// StoreRequest: keep the inbound request (stanza and status) to
	// deliver again at the user's next login; DropRequest: forget the kept
	// one, answered or withdrawn.
	StoreRequest, DropRequest bool
	// SendPresence: the contact gained a subscription to the user's
	// presence; send it the user's current presence from each available
	// resource. SendUnavailable: the contact lost it; send unavailable
	// presence from each available resource.
	SendPresence, SendUnavailable bool
}
