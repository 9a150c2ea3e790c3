package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/server/adminclient"
)

// The admin API (SPEC.md section 5) is HTTP/1.1 with JSON bodies on the unix
// socket general.admin_socket:
//
//	POST /v1/tokens   {"jid":"alice@example.com"} -> {"jid","token","expires_at"}
//	GET  /v1/hosts    -> {"hosts":[{"host","keys":[{"name","type","size"}]}]}
//	GET  /v1/sessions -> {"sessions":{"example.com":["alice@example.com/phone"]}}
//
// In a cluster, /v1/sessions lists the sessions of every node, as this node's
// directory knows them, and adds which node each is bound on:
//
//	{"sessions":{"example.com":["alice@example.com/phone","bob@example.com/desk"]},
//	 "node":"node1","nodes":{"alice@example.com/phone":"node1","bob@example.com/desk":"node2"}}
//
// Errors are {"error": "..."} with 400 (bad request or JID), 404 (unknown
// host or path), 405 (wrong method) or 500. Access control is the socket's
// mode, 0600: whoever can open it can mint tokens for every user. No answer
// holds a key; the only secret that ever leaves is the token just minted, and
// it is never logged.

// adminBackend is what the admin API needs of a server.
type adminBackend interface {
	// HostNames are the served virtual hosts.
	HostNames() []string
	// HostKeys describes every host's keys (names, types, sizes; never bytes).
	HostKeys() ([]adminclient.Host, error)
	// Mint returns a fresh token for a bare JID of a served host. An error
	// that is an *adminclient.APIError is sent with its status and message.
	Mint(ctx context.Context, bareJID string) (token string, expiresAt time.Time, err error)
	// Sessions are the bound full JIDs per host.
	Sessions() map[string][]string
}

// clusterSessions is what a clustered backend adds for /v1/sessions.
type clusterSessions interface {
	// ClusterSessions names this node and, for every full JID bound on any
	// node of the cluster, the node it is bound on; ok is false outside a
	// cluster.
	ClusterSessions() (self string, where map[string]string, ok bool)
}

// maxAdminRequest bounds a request body: a JID is at most 3 KiB.
const maxAdminRequest = 8 << 10

// adminHandler serves the admin API of b.
type adminHandler struct {
	b   adminBackend
	log *slog.Logger
	mux *http.ServeMux
}

func newAdminHandler(b adminBackend, log *slog.Logger) http.Handler {
	h := &adminHandler{b: b, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/tokens", h.mint)
	h.mux.HandleFunc("GET /v1/hosts", h.hosts)
	h.mux.HandleFunc("GET /v1/sessions", h.sessions)
	h.routeRoster()
	// Revocation and rotation.
	h.mux.HandleFunc("POST /v1/revocations", h.revoke)
	h.mux.HandleFunc("DELETE /v1/sessions/{fulljid...}", h.kick)
	h.mux.HandleFunc("POST /v1/hosts/{host}/rotate", h.rotate)
	h.routeFAST()
	return h
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// The mux's own 404 and 405 answers are text; ours are JSON like every
	// other error. Ask the mux whether it has a route before letting it answer.
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.notRouted(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *adminHandler) notRouted(w http.ResponseWriter, r *http.Request) {
	allow := map[string]string{"/v1/tokens": "POST", "/v1/hosts": "GET, HEAD", "/v1/sessions": "GET, HEAD", "/v1/revocations": "POST"}
	if methods, ok := allow[r.URL.Path]; ok {
		w.Header().Set("Allow", methods)
		writeAdminError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (use %s)", r.Method, r.URL.Path, methods))
		return
	}
	writeAdminError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s (see /v1/tokens, /v1/hosts, /v1/sessions)", r.URL.Path))
}

func (h *adminHandler) mint(w http.ResponseWriter, r *http.Request) {
	var req adminclient.MintRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeAdminError(w, http.StatusBadRequest, "the body must be a JSON object {\"jid\": \"user@host\"}: "+jsonErrorText(err))
		return
	}
	if dec.More() {
		writeAdminError(w, http.StatusBadRequest, "the body must hold one JSON object")
		return
	}
	bare, status, msg := h.checkJID(req.JID)
	if status != 0 {
		h.log.Info("admin: token refused", "jid", req.JID, "status", status, "reason", msg)
		writeAdminError(w, status, msg)
		return
	}
	token, expires, err := h.b.Mint(r.Context(), bare)
	if err != nil {
		var apiErr *adminclient.APIError
		if errors.As(err, &apiErr) {
			h.log.Info("admin: token refused", "jid", bare, "status", apiErr.Status, "reason", apiErr.Message)
			writeAdminError(w, apiErr.Status, apiErr.Message)
			return
		}
		// A mint error names keys at most, never their bytes (the sasl
		// package's rule), so it may be logged, but the answer stays generic.
		h.log.Error("admin: minting failed", "jid", bare, "err", err)
		writeAdminError(w, http.StatusInternalServerError, "could not mint a token (see the server's log)")
		return
	}
	h.log.Info("admin: token minted", "jid", bare, "expires_at", expires.UTC().Format(time.RFC3339))
	writeAdminJSON(w, http.StatusOK, adminclient.Token{JID: bare, Token: token, ExpiresAt: expires.UTC()})
}

// checkJID normalizes s to a bare JID of a served host, or returns the HTTP
// status and message of why it is not one.
func (h *adminHandler) checkJID(s string) (bare string, status int, msg string) {
	if s == "" {
		return "", http.StatusBadRequest, "missing \"jid\""
	}
	j, err := jid.Parse(s)
	if err != nil {
		return "", http.StatusBadRequest, fmt.Sprintf("%q is not a valid JID: %v", s, err)
	}
	if j.Localpart() == "" {
		return "", http.StatusBadRequest, fmt.Sprintf("%q has no user part: want user@host", s)
	}
	if j.Resourcepart() != "" {
		return "", http.StatusBadRequest, fmt.Sprintf("%q is a full JID: want the bare JID user@host", s)
	}
	if !slices.Contains(h.b.HostNames(), j.Domainpart()) {
		return "", http.StatusNotFound, fmt.Sprintf("unknown host %q (not in general.hosts)", j.Domainpart())
	}
	return j.String(), 0, ""
}

func (h *adminHandler) hosts(w http.ResponseWriter, r *http.Request) {
	hosts, err := h.b.HostKeys()
	if err != nil {
		h.log.Error("admin: listing hosts failed", "err", err)
		writeAdminError(w, http.StatusInternalServerError, "could not list the hosts (see the server's log)")
		return
	}
	if hosts == nil {
		hosts = []adminclient.Host{}
	}
	writeAdminJSON(w, http.StatusOK, adminclient.Hosts{Hosts: hosts})
}

func (h *adminHandler) sessions(w http.ResponseWriter, r *http.Request) {
	var answer adminclient.Sessions
	var got map[string][]string
	if cb, ok := h.b.(clusterSessions); ok {
		if self, where, ok := cb.ClusterSessions(); ok {
			answer.Node, answer.Nodes = self, where
			got = make(map[string][]string)
			for full := range where {
				if j, err := jid.Parse(full); err == nil {
					got[j.Domainpart()] = append(got[j.Domainpart()], full)
				}
			}
		}
	}
	if got == nil {
		got = h.b.Sessions()
	}
	all := make(map[string][]string, len(got))
	served := h.b.HostNames()
	for _, host := range served {
		all[host] = []string{}
	}
	for host, jids := range got {
		if answer.Nodes != nil && !slices.Contains(served, host) {
			continue // a peer serving a host this node does not
		}
		sorted := slices.Clone(jids)
		slices.Sort(sorted)
		if sorted == nil {
			sorted = []string{}
		}
		all[host] = sorted
	}
	answer.Sessions = all
	if answer.Nodes != nil {
		for full := range answer.Nodes {
			if j, err := jid.Parse(full); err != nil || !slices.Contains(served, j.Domainpart()) {
				delete(answer.Nodes, full)
			}
		}
	}
	writeAdminJSON(w, http.StatusOK, answer)
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeAdminError(w http.ResponseWriter, status int, msg string) {
	writeAdminJSON(w, status, adminclient.ErrorBody{Error: msg})
}

// jsonErrorText explains a decoding error without echoing the body back.
func jsonErrorText(err error) string {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return fmt.Sprintf("body over %d bytes", maxAdminRequest)
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	return err.Error()
}
