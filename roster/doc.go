// Package roster is the presence subscription state machine of RFC 6121
// (sections 3 and 3.4, Appendix A) as pure functions: given what the user's
// roster says about one contact and a subscription stanza, it returns the new
// state and what the server must do: route or deliver the stanza, push the
// roster item, answer for the user, keep or forget a pending request, send
// presence.
//
// The functions decide; they neither store nor send. A server reads the
// State from its storage, calls Outbound for a subscription stanza the user
// sent or Inbound for one addressed to the user, stores Outcome.State, then
// acts on the Outcome's flags:
//
//	out := roster.Inbound(cur, roster.Subscribe)
//	if out.Reply != 0 { /* send <presence type="subscribed"/> back, from the user */ }
//	if out.StoreRequest { /* keep the stanza until the user answers */ }
//	if out.Forward { /* deliver it to the user's available resources */ }
//
// The stanza kinds and states are those of RFC 6121 Appendix A; "pending
// out" is the item's ask="subscribe", "pending in" a request kept for the
// user, "approved" a pre-approval (section 3.4).
package roster
