package server

import (
	"context"
	"net/http"
	"time"

	"mellium.im/xmpp/jid"
)

// The admin API's FAST token endpoints (XEP-0484): what tokens a user's
// clients hold, never the tokens themselves, and their revocation.
//
//	GET    /v1/fast/{jid}         -> {"jid","tokens":[{"user_agent","software","device","created","expires"}]}
//	DELETE /v1/fast/{jid}         -> {"jid","revoked":N,"unreached_nodes":[]}: every token of the user
//	DELETE /v1/fast/{jid}/{agent} -> {"jid","user_agent","revoked":N,"unreached_nodes":[]}: one user agent's
//
// A DELETE answers once the cluster's other nodes have the revocation, or
// names those it did not reach, as a user's revocation does.

// adminFAST is what the FAST endpoints need of a backend.
type adminFAST interface {
	FASTTokens(bare string) []fastInfo
	RevokeFAST(ctx context.Context, bare, agent string) (revoked int, unreached []string)
}

// FASTTokens is the JSON of GET /v1/fast/{jid}.
type FASTTokens struct {
	JID    string     `json:"jid"`
	Tokens []fastInfo `json:"tokens"`
}

// FASTRevoked is the JSON of DELETE /v1/fast/{jid}[/{agent}].
type FASTRevoked struct {
	JID       string `json:"jid"`
	UserAgent string `json:"user_agent,omitempty"`
	Revoked   int    `json:"revoked"`
	// UnreachedNodes are the cluster's other nodes the revocation did not
	// reach (they refuse the tokens only when told, or restarted).
	UnreachedNodes []string `json:"unreached_nodes"`
}

func (h *adminHandler) routeFAST() {
	h.mux.HandleFunc("GET /v1/fast/{jid}", h.fastList)
	h.mux.HandleFunc("DELETE /v1/fast/{jid}", h.fastRevoke)
	h.mux.HandleFunc("DELETE /v1/fast/{jid}/{agent...}", h.fastRevoke)
}

// fastBackend is the backend's adminFAST; nil answers 501.
// fastTarget answers the request itself when the backend has no FAST
// tokens (501) or the path's JID is bad; ok false then.
func (h *adminHandler) fastTarget(w http.ResponseWriter, r *http.Request) (f adminFAST, bare string, ok bool) {
	f, ok = h.b.(adminFAST)
	if !ok {
		writeAdminError(w, http.StatusNotImplemented, "this server has no FAST tokens")
		return nil, "", false
	}
	bare, status, msg := h.checkJID(r.PathValue("jid"))
	if status != 0 {
		writeAdminError(w, status, msg)
		return nil, "", false
	}
	return f, bare, true
}

func (h *adminHandler) fastList(w http.ResponseWriter, r *http.Request) {
	f, bare, ok := h.fastTarget(w, r)
	if !ok {
		return
	}
	tokens := f.FASTTokens(bare)
	if tokens == nil {
		tokens = []fastInfo{}
	}
	writeAdminJSON(w, http.StatusOK, FASTTokens{JID: bare, Tokens: tokens})
}

func (h *adminHandler) fastRevoke(w http.ResponseWriter, r *http.Request) {
	f, bare, ok := h.fastTarget(w, r)
	if !ok {
		return
	}
	agent := r.PathValue("agent")
	n, unreached := f.RevokeFAST(r.Context(), bare, agent)
	if unreached == nil {
		unreached = []string{}
	}
	h.log.Info("admin: FAST tokens revoked", "jid", bare, "user_agent", agent, "revoked", n, "unreached_nodes", unreached)
	writeAdminJSON(w, http.StatusOK, FASTRevoked{JID: bare, UserAgent: agent, Revoked: n, UnreachedNodes: unreached})
}

// FASTTokens is the admin API's view of the tokens bare's clients hold.
func (a serverAdmin) FASTTokens(bare string) []fastInfo {
	j, err := jid.Parse(bare)
	if err != nil {
		return nil
	}
	return a.s.fast.list(j.Domainpart(), j.Localpart(), time.Now())
}

// RevokeFAST drops bare's FAST tokens, of every user agent when agent is
// "", here and on the cluster's other nodes.
func (a serverAdmin) RevokeFAST(ctx context.Context, bare, agent string) (int, []string) {
	j, err := jid.Parse(bare)
	if err != nil {
		return 0, nil
	}
	return a.s.fast.revoke(ctx, j.Domainpart(), j.Localpart(), agent)
}
