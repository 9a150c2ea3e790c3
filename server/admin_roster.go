package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/roster"
	"github.com/xtokend/xtokend/server/adminclient"
	"github.com/xtokend/xtokend/storage"
)

// The roster endpoints of the admin API: in token deployments the
// application owns who may see whom, so it sets rosters directly.
//
//	GET    /v1/roster/{jid}           -> {"jid","version","items":[{"jid","name","groups","subscription"}]}
//	PUT    /v1/roster/{jid}/{contact} {"name","groups","subscription"} -> the item
//	DELETE /v1/roster/{jid}/{contact} -> {}
//
// A PUT with a subscription sets both rosters when the contact is a user of
// this server: "both" makes it mutual, "to" gives the contact's item "from"
// and the other way round. Every change is pushed to the users' online
// resources at once, and presence follows what the change granted or took
// away. 503 when storage is off or the database is unavailable.

// rosterAdmin is what the roster endpoints need of a server.
type rosterAdmin interface {
	AdminRoster(ctx context.Context, user string) (adminclient.Roster, error)
	AdminPutRosterItem(ctx context.Context, user, contact string, it adminclient.RosterItem) (adminclient.RosterItem, error)
	AdminDeleteRosterItem(ctx context.Context, user, contact string) error
}

// adminStoreTimeout bounds an admin request's database calls.
const adminStoreTimeout = 10 * time.Second

// routeRoster adds the roster endpoints when the backend has rosters.
func (h *adminHandler) routeRoster() {
	ra, ok := h.b.(rosterAdmin)
	if !ok {
		return
	}
	h.mux.HandleFunc("GET /v1/roster/{jid}", func(w http.ResponseWriter, r *http.Request) {
		user, status, msg := h.checkJID(r.PathValue("jid"))
		if status != 0 {
			writeAdminError(w, status, msg)
			return
		}
		ro, err := ra.AdminRoster(r.Context(), user)
		h.answerRoster(w, ro, err)
	})
	h.mux.HandleFunc("PUT /v1/roster/{jid}/{contact}", func(w http.ResponseWriter, r *http.Request) {
		user, contact, ok := h.rosterPair(w, r)
		if !ok {
			return
		}
		var it adminclient.RosterItem
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&it); err != nil {
			writeAdminError(w, http.StatusBadRequest, "the body is not a roster item: "+jsonErrorText(err))
			return
		}
		out, err := ra.AdminPutRosterItem(r.Context(), user, contact, it)
		if err == nil {
			h.log.Info("admin: roster item set", "jid", user, "contact", contact, "subscription", out.Subscription)
		}
		h.answerRoster(w, out, err)
	})
	h.mux.HandleFunc("DELETE /v1/roster/{jid}/{contact}", func(w http.ResponseWriter, r *http.Request) {
		user, contact, ok := h.rosterPair(w, r)
		if !ok {
			return
		}
		err := ra.AdminDeleteRosterItem(r.Context(), user, contact)
		if err == nil {
			h.log.Info("admin: roster item removed", "jid", user, "contact", contact)
		}
		h.answerRoster(w, struct{}{}, err)
	})
}

// rosterPair reads the user (a bare JID of a served host) and the contact
// (any bare JID) of a roster path.
func (h *adminHandler) rosterPair(w http.ResponseWriter, r *http.Request) (user, contact string, ok bool) {
	user, status, msg := h.checkJID(r.PathValue("jid"))
	if status != 0 {
		writeAdminError(w, status, msg)
		return "", "", false
	}
	c, err := jid.Parse(r.PathValue("contact"))
	if err != nil || c.Resourcepart() != "" || r.PathValue("contact") == "" {
		writeAdminError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a bare JID", r.PathValue("contact")))
		return "", "", false
	}
	if c.String() == user {
		writeAdminError(w, http.StatusBadRequest, "a user is not a contact of their own")
		return "", "", false
	}
	return user, c.String(), true
}

func (h *adminHandler) answerRoster(w http.ResponseWriter, v any, err error) {
	var apiErr *adminclient.APIError
	switch {
	case err == nil:
		writeAdminJSON(w, http.StatusOK, v)
	case errors.As(err, &apiErr):
		writeAdminError(w, apiErr.Status, apiErr.Message)
	case errors.Is(err, storage.ErrNotFound):
		writeAdminError(w, http.StatusNotFound, "no such roster item")
	case errors.Is(err, storage.ErrLimit), errors.Is(err, storage.ErrInvalid):
		writeAdminError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, storage.ErrUnavailable):
		h.log.Warn("admin: storage unavailable", "err", err)
		writeAdminError(w, http.StatusServiceUnavailable, "the database is unavailable; try again later")
	default:
		h.log.Error("admin: roster", "err", err)
		writeAdminError(w, http.StatusInternalServerError, "the roster could not be changed (see the server's log)")
	}
}

var errStorageOff = &adminclient.APIError{Status: http.StatusServiceUnavailable, Message: "this server keeps no rosters: its configuration turns [storage] off"}

func itemJSON(it storage.Item) adminclient.RosterItem {
	g := it.Groups
	if g == nil {
		g = []string{}
	}
	return adminclient.RosterItem{JID: it.Contact, Name: it.Name, Groups: g, Subscription: string(it.Subscription), Ask: it.Ask}
}

func (a serverAdmin) AdminRoster(ctx context.Context, user string) (adminclient.Roster, error) {
	st := a.s.store()
	if st == nil {
		return adminclient.Roster{}, errStorageOff
	}
	ctx, cancel := context.WithTimeout(ctx, adminStoreTimeout)
	defer cancel()
	ro, err := st.Rosters().Get(ctx, user)
	if err != nil {
		return adminclient.Roster{}, err
	}
	out := adminclient.Roster{JID: user, Version: ro.Version, Items: []adminclient.RosterItem{}}
	for _, it := range ro.Items {
		out.Items = append(out.Items, itemJSON(it))
	}
	return out, nil
}

func (a serverAdmin) AdminPutRosterItem(ctx context.Context, user, contact string, in adminclient.RosterItem) (adminclient.RosterItem, error) {
	s := a.s
	if s.store() == nil {
		return adminclient.RosterItem{}, errStorageOff
	}
	var sub roster.Subscription
	if in.Subscription != "" {
		var ok bool
		if sub, ok = roster.ParseSubscription(in.Subscription); !ok {
			return adminclient.RosterItem{}, &adminclient.APIError{Status: http.StatusBadRequest,
				Message: fmt.Sprintf("subscription %q: want none, to, from or both", in.Subscription)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, adminStoreTimeout)
	defer cancel()
	before, cur, err := s.subState(ctx, user, contact)
	if err != nil {
		return adminclient.RosterItem{}, err
	}
	cur.Name, cur.Groups = in.Name, in.Groups
	if in.Subscription == "" {
		sub = before.Sub
	}
	cur.Subscription = storage.Subscription(sub.String())
	if sub&roster.To != 0 {
		cur.Ask = false
	}
	ver, err := s.store().Rosters().Put(ctx, user, cur)
	if err != nil {
		return adminclient.RosterItem{}, err
	}
	s.pushRoster(user, ver, cur, false)
	if in.Subscription != "" {
		if err := s.setSubscription(ctx, user, contact, before.Sub, sub); err != nil {
			return itemJSON(cur), err
		}
	}
	return itemJSON(cur), nil
}

func (a serverAdmin) AdminDeleteRosterItem(ctx context.Context, user, contact string) error {
	s := a.s
	if s.store() == nil {
		return errStorageOff
	}
	ctx, cancel := context.WithTimeout(ctx, adminStoreTimeout)
	defer cancel()
	before, _, err := s.subState(ctx, user, contact)
	if err != nil {
		return err
	}
	if !before.InRoster {
		return storage.ErrNotFound
	}
	ver, err := s.store().Rosters().Delete(ctx, user, contact)
	if err != nil {
		return err
	}
	s.pushRoster(user, ver, storage.Item{Contact: contact}, true)
	return s.setSubscription(ctx, user, contact, before.Sub, roster.None)
}

// setSubscription makes the contact's side agree with the user's new
// subscription (when the contact is a user here), answers the requests it
// settles, and sends the presence it grants or takes away.
func (s *Server) setSubscription(ctx context.Context, user, contact string, old, sub roster.Subscription) error {
	gained, lost := sub&^old, old&^sub
	if s.servesUser(contact) {
		mirror := (sub&roster.To)<<1 | (sub&roster.From)>>1 // the user's "to" is the contact's "from"
		_, m, err := s.subState(ctx, contact, user)
		if err != nil {
			return err
		}
		if string(m.Subscription) != mirror.String() {
			m.Subscription = storage.Subscription(mirror.String())
			if mirror&roster.To != 0 {
				m.Ask = false
			}
			ver, err := s.store().Rosters().Put(ctx, contact, m)
			if err != nil {
				return err
			}
			s.pushRoster(contact, ver, m, false)
		}
		if sub&roster.To != 0 {
			if _, err := s.store().Rosters().DeleteRequest(ctx, contact, user); err != nil {
				return err
			}
		}
		if gained&roster.To != 0 {
			s.presenceOfUserTo(contact, user, true)
		}
		if lost&roster.To != 0 {
			s.presenceOfUserTo(contact, user, false)
		}
	}
	if sub&roster.From != 0 {
		if _, err := s.store().Rosters().DeleteRequest(ctx, user, contact); err != nil {
			return err
		}
	}
	if gained&roster.From != 0 {
		s.presenceOfUserTo(user, contact, true)
	}
	if lost&roster.From != 0 {
		s.presenceOfUserTo(user, contact, false)
	}
	return nil
}
