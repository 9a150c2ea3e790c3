package roster

// Outbound applies a subscription stanza the user sends to the contact
// (RFC 6121 Appendix A.2, sections 3.1.2, 3.2.2, 3.3.2, 3.4).
// preApproval says whether the server offers pre-approval (an outbound
// subscribed without a pending request records one); without it, such a
// stanza is ignored.
func Outbound(s State, k Kind, preApproval bool) Outcome {
	n := s
	o := Outcome{}
	switch k {
	case Subscribe:
		// Routed even when nothing changes: the contact's server answers
		// for the contact (section 3.1.3). The item is made if missing.
		if s.Sub&To == 0 {
			n.PendingOut = true
		}
		n.InRoster = true
		o.Forward = true
	case Unsubscribe:
		n.Sub &^= To
		n.PendingOut = false
		o.Forward = true
	case Subscribed:
		switch {
		case s.Sub&From != 0:
			// Already subscribed: nothing to approve.
		case s.PendingIn:
			n.Sub |= From
			n.PendingIn, n.Approved, n.InRoster = false, false, true
			o.Forward, o.DropRequest, o.SendPresence = true, true, true
		case preApproval && !s.Approved:
			// Section 3.4.1: recorded, not routed; the item is made if
			// missing, with subscription none.
			n.Approved, n.InRoster = true, true
		}
	case Unsubscribed:
		switch {
		case s.Sub&From != 0:
			n.Sub &^= From
			o.Forward, o.SendUnavailable = true, true
		case s.PendingIn:
			o.Forward = true // declines the request
		}
		if s.PendingIn {
			n.PendingIn, o.DropRequest = false, true
		}
		n.Approved = false // also cancels a pre-approval (section 3.4.2)
	default:
		return Outcome{State: s}
	}
	o.State = n
	o.Push = n.InRoster && visible(n) != visible(s)
	return o
}

// Inbound applies a subscription stanza the contact sends to the user
// (RFC 6121 Appendix A.3, sections 3.1.3, 3.1.6, 3.2.3, 3.3.3, 3.4).
func Inbound(s State, k Kind) Outcome {
	n := s
	o := Outcome{}
	switch k {
	case Subscribe:
		switch {
		case s.Sub&From != 0:
			o.Reply = Subscribed // already subscribed: answered for the user
		case s.Approved:
			// Pre-approved: granted without asking the user.
			n.Sub |= From
			n.Approved, n.PendingIn = false, false
			o.Reply, o.SendPresence = Subscribed, true
			o.DropRequest = s.PendingIn
		default:
			// Kept and shown to the user, again if it is a repeat; a
			// contact not in the roster gets no item (section 3.1.3).
			n.PendingIn = true
			o.Forward, o.StoreRequest = true, true
		}
	case Unsubscribe:
		switch {
		case s.Sub&From != 0:
			n.Sub &^= From
			o.Forward, o.SendUnavailable = true, true
		case s.PendingIn:
			o.Forward = true // the request is withdrawn
		}
		if s.PendingIn {
			n.PendingIn, o.DropRequest = false, true
		}
	case Subscribed:
		if s.PendingOut {
			n.Sub |= To
			n.PendingOut = false
			o.Forward = true
		}
	case Unsubscribed:
		if s.Sub&To != 0 || s.PendingOut {
			n.Sub &^= To
			n.PendingOut = false
			o.Forward = true
		}
	default:
		return Outcome{State: s}
	}
	o.State = n
	o.Push = n.InRoster && visible(n) != visible(s)
	return o
}

// item is what a roster push shows of a state.
type item struct {
	sub           Subscription
	ask, approved bool
	inRoster      bool
}

func visible(s State) item {
	return item{sub: s.Sub, ask: s.PendingOut, approved: s.Approved, inRoster: s.InRoster}
}
