package adminclient

import (
	"context"
	"net/http"
	"net/url"
)

// RosterItem is one contact of a user's roster, as the admin API shows and
// takes it (PUT /v1/roster/{jid}/{contact}). Subscription is "none", "to",
// "from" or "both"; in a PUT, "both" makes the subscription mutual on both
// rosters, and an empty one keeps what the item had ("none" for a new one).
type RosterItem struct {
	JID          string   `json:"jid,omitempty"` // the contact: set in answers
	Name         string   `json:"name"`
	Groups       []string `json:"groups"`
	Subscription string   `json:"subscription,omitempty"`
	// Ask: the user asked for the contact's presence and awaits the answer.
	Ask bool `json:"ask,omitempty"`
}

// Roster is the answer to GET /v1/roster/{jid}.
type Roster struct {
	JID     string       `json:"jid"`
	Version int64        `json:"version"`
	Items   []RosterItem `json:"items"`
}

func rosterPath(user string, contact ...string) string {
	p := "/v1/roster/" + url.PathEscape(user)
	for _, c := range contact {
		p += "/" + url.PathEscape(c)
	}
	return p
}

// Roster returns the user's roster.
func (c *Client) Roster(ctx context.Context, user string) (Roster, error) {
	var r Roster
	err := c.do(ctx, http.MethodGet, rosterPath(user), nil, &r)
	return r, err
}

// PutRosterItem adds or replaces the user's item for contact and returns it
// as stored.
func (c *Client) PutRosterItem(ctx context.Context, user, contact string, it RosterItem) (RosterItem, error) {
	var out RosterItem
	err := c.do(ctx, http.MethodPut, rosterPath(user, contact), it, &out)
	return out, err
}

// DeleteRosterItem removes the user's item for contact.
func (c *Client) DeleteRosterItem(ctx context.Context, user, contact string) error {
	var out struct{}
	return c.do(ctx, http.MethodDelete, rosterPath(user, contact), nil, &out)
}
