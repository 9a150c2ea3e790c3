package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/server/adminclient"
)

// The admin API's revocation endpoints (Server.Revoke and Server.Kick say what they do):
//
//	POST   /v1/revocations       {"jid":"alice@example.com"[, "resource":"phone"]}
//	       -> {"jid","resource","revoked_at","tokens_valid_from","kept_until","sessions_ended","unreached_nodes"}
//	DELETE /v1/sessions/{fulljid} -> {"jid"}; 404 when no node has it bound

// adminRevoker is what the revocation endpoints need of a backend.
type adminRevoker interface {
	Revoke(ctx context.Context, bareJID, resource string) (adminclient.Revocation, error)
	Kick(ctx context.Context, fullJID string) (ended bool, err error)
}

// revoker is the backend's adminRevoker; nil answers 501.
func (h *adminHandler) revoker(w http.ResponseWriter) adminRevoker {
	r, ok := h.b.(adminRevoker)
	if !ok {
		writeAdminError(w, http.StatusNotImplemented, "this server does not revoke")
	}
	return r
}

func (h *adminHandler) revoke(w http.ResponseWriter, r *http.Request) {
	rv := h.revoker(w)
	if rv == nil {
		return
	}
	var req adminclient.RevokeRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeAdminError(w, http.StatusBadRequest, "the body must be a JSON object {\"jid\": \"user@host\"[, \"resource\": \"r\"]}: "+jsonErrorText(err))
		return
	}
	if dec.More() {
		writeAdminError(w, http.StatusBadRequest, "the body must hold one JSON object")
		return
	}
	if _, status, msg := h.checkJID(req.JID); status != 0 {
		writeAdminError(w, status, msg)
		return
	}
	res, err := rv.Revoke(r.Context(), req.JID, req.Resource)
	if err != nil {
		h.writeBackendError(w, "revocation", err)
		return
	}
	if res.UnreachedNodes == nil {
		res.UnreachedNodes = []string{}
	}
	writeAdminJSON(w, http.StatusOK, res)
}

func (h *adminHandler) kick(w http.ResponseWriter, r *http.Request) {
	rv := h.revoker(w)
	if rv == nil {
		return
	}
	full := r.PathValue("fulljid")
	j, err := jid.Parse(full)
	switch {
	case err != nil:
		writeAdminError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a valid JID: %v", full, err))
		return
	case j.Localpart() == "" || j.Resourcepart() == "":
		writeAdminError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a full JID: want user@host/resource", full))
		return
	}
	ended, err := rv.Kick(r.Context(), full)
	if err != nil {
		h.writeBackendError(w, "kick", err)
		return
	}
	if !ended {
		writeAdminError(w, http.StatusNotFound, fmt.Sprintf("no session of %s is bound", j))
		return
	}
	writeAdminJSON(w, http.StatusOK, adminclient.Kicked{JID: j.String()})
}

// writeBackendError answers an error of the backend: an *APIError with its
// status, anything else with 500 (the message is logged, not sent).
func (h *adminHandler) writeBackendError(w http.ResponseWriter, what string, err error) {
	var apiErr *adminclient.APIError
	if errors.As(err, &apiErr) {
		writeAdminError(w, apiErr.Status, apiErr.Message)
		return
	}
	h.log.Error("admin: "+what+" failed", "err", err)
	writeAdminError(w, http.StatusInternalServerError, what+" failed (see the server's log)")
}

// Revoke is the admin API's view of Server.Revoke.
func (a serverAdmin) Revoke(ctx context.Context, bare, resource string) (adminclient.Revocation, error) {
	res, err := a.s.Revoke(ctx, bare, resource)
	if err != nil {
		return adminclient.Revocation{}, adminStatusOf(err)
	}
	return adminclient.Revocation{
		JID: res.JID, Resource: res.Resource,
		RevokedAt: res.At.UTC(), TokensValidFrom: res.ValidFrom.UTC(), KeptUntil: res.Until.UTC(),
		SessionsEnded: res.Ended, UnreachedNodes: res.Unreached,
	}, nil
}

// Kick is the admin API's view of Server.Kick.
func (a serverAdmin) Kick(ctx context.Context, full string) (bool, error) {
	ended, err := a.s.Kick(ctx, full)
	if err != nil {
		return false, adminStatusOf(err)
	}
	return ended, nil
}

// adminStatusOf gives a bad JID 400 and an unknown host 404.
func adminStatusOf(err error) error {
	switch {
	case errors.Is(err, ErrBadJID):
		return &adminclient.APIError{Status: http.StatusBadRequest, Message: err.Error()}
	case errors.Is(err, ErrUnknownHost):
		return &adminclient.APIError{Status: http.StatusNotFound, Message: err.Error()}
	}
	return err
}
