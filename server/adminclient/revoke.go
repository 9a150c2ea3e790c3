package adminclient

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// RevokeRequest is the body of POST /v1/revocations: a bare JID, and a
// resource to revoke that one full JID's session only.
type RevokeRequest struct {
	JID      string `json:"jid"`
	Resource string `json:"resource,omitempty"`
}

// Revocation is the answer to POST /v1/revocations.
type Revocation struct {
	JID      string `json:"jid"`
	Resource string `json:"resource,omitempty"`
	// RevokedAt is when it took effect; tokens minted from TokensValidFrom
	// (the next OTP time step) log in again; the revocation is forgotten at
	// KeptUntil, when every token it refuses has expired.
	RevokedAt       time.Time `json:"revoked_at"`
	TokensValidFrom time.Time `json:"tokens_valid_from"`
	KeptUntil       time.Time `json:"kept_until"`
	// SessionsEnded counts the sessions the answering node ended; other
	// nodes end theirs as the revocation reaches them.
	SessionsEnded int `json:"sessions_ended"`
	// UnreachedNodes are cluster nodes the revocation did not reach.
	UnreachedNodes []string `json:"unreached_nodes"`
}

// Kicked is the answer to DELETE /v1/sessions/{fulljid}.
type Kicked struct {
	JID string `json:"jid"`
}

// Revoke revokes the tokens and sessions of a bare JID, or with a resource
// the session of that full JID, on every node.
func (c *Client) Revoke(ctx context.Context, bareJID, resource string) (Revocation, error) {
	var r Revocation
	err := c.do(ctx, http.MethodPost, "/v1/revocations", RevokeRequest{JID: bareJID, Resource: resource}, &r)
	return r, err
}

// Kick ends the session of a full JID without revoking anything. An
// *APIError with status 404 says no node has it bound.
func (c *Client) Kick(ctx context.Context, fullJID string) (Kicked, error) {
	var k Kicked
	err := c.do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(fullJID), nil, &k)
	return k, err
}

// Rotation is the answer to POST /v1/hosts/{host}/rotate.
type Rotation struct {
	Host string   `json:"host"`
	Keys []string `json:"keys"` // the RAM keys given new bytes
	// OldKeysUntil is when the replaced keys stop verifying and are wiped.
	OldKeysUntil time.Time `json:"old_keys_until"`
}

// RotateRAM gives every RAM key of host new bytes on every node; the old
// ones verify for one more token lifetime.
func (c *Client) RotateRAM(ctx context.Context, host string) (Rotation, error) {
	var r Rotation
	err := c.do(ctx, http.MethodPost, "/v1/hosts/"+url.PathEscape(host)+"/rotate", nil, &r)
	return r, err
}
