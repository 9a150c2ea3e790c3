package server

import (
	"bytes"
	"context"
	"encoding/xml"
	"sync"
	"time"

	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/storage"
)

// Offline messages (XEP-0160, stamped with XEP-0203 delay): a chat or
// normal message for a user of this server with no available resource is
// stored, up to the per-user cap (then the sender gets service-unavailable),
// and delivered in order when the user next sends available presence of
// non-negative priority. Groupchat, headline and error messages are never
// stored; nor is one without a body (a chat state, a receipt: dropped, as
// XEP-0085 asks) unless it carries XEP-0334's <store/>, nor one with
// <no-store/> (answered as without storage).
//
// A batch is removed once the session's writer has written it (its queue
// drained without a failed write); a session that ends first keeps it for
// the next login, which may then see some of it twice rather than lose it.
// A writer kept busy past the write timeout by other traffic is trusted
// with what it was given.

const (
	nsDelay = "urn:xmpp:delay"
	nsHints = "urn:xmpp:hints"
)

// offlineBatch bounds the messages one fetch reads: a queue of a thousand
// goes out in pieces the session's outbound queue has room for.
const offlineBatch = 100

// minOfflineRoom is the room in the outbound queue a batch waits for, so
// that stored messages leave room for the live traffic beside them.
const minOfflineRoom = 8

// storeOffline keeps a message for bare, which has no available resource;
// false when it is not one to keep (the caller answers as without storage).
func (s *session) storeOffline(st *xmlStanza, bare, to string) bool {
	srv := s.srv
	if srv.store() == nil {
		return false
	}
	switch st.typ {
	case "", "normal", "chat":
	default:
		return false
	}
	if hasChild(st, nsHints, "no-store") {
		return false
	}
	if _, body := st.childText("body"); !body && !hasChild(st, nsHints, "store") {
		return true // nothing a reader would miss
	}
	b, err := st.encode(s.full, to)
	if err != nil {
		return false
	}
	err = srv.dbCall("offline", func(ctx context.Context) error {
		_, err := srv.store().Offline().Store(ctx, bare, s.full, time.Now(), b)
		return err
	})
	if err != nil {
		typ, cond, text := srv.storageError(err, stanza.ServiceUnavailable)
		s.replyError(st, to, typ, cond, text)
		return true
	}
	srv.db.offlineStored.Inc()
	return true
}

// deliverOffline starts the delivery of the user's stored messages to s,
// whose first available presence this is, unless storage is off.
func (s *session) deliverOffline() {
	if s.srv.store() == nil {
		return
	}
	// The session's connection is counted in the wait group: adding to it
	// here cannot race Shutdown's Wait.
	s.srv.wg.Add(1)
	go func() {
		defer s.srv.wg.Done()
		s.srv.deliverOffline(s)
	}()
}

// deliverOffline writes the user's stored messages to s in order, in
// batches its outbound queue has room for, deleting each batch once written.
// One delivery per user runs at a time, so that two resources coming online
// together do not both get the queue.
func (srv *Server) deliverOffline(s *session) {
	v, _ := srv.db.delivering.LoadOrStore(s.bare, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	defer func() {
		srv.db.delivering.Delete(s.bare)
		mu.Unlock()
	}()
	host := s.jid.Domainpart()
	for s.available.Load() {
		// A client reading slowly is waited for, but not for ever: the
		// rest waits for the next login.
		room := s.out.awaitFree(minOfflineRoom, srv.writeTimeout())
		if room < minOfflineRoom || !s.available.Load() {
			return // the session ended, went unavailable or does not read
		}
		n := min(room/2, offlineBatch)
		var msgs []storage.Message
		err := srv.dbCall("offline", func(ctx context.Context) (err error) {
			msgs, err = srv.store().Offline().Fetch(ctx, s.bare, n)
			return err
		})
		if err != nil {
			srv.logger().Warn("storage: offline messages not delivered", "jid", s.full, "err", err)
			return
		}
		ids := make([]int64, 0, len(msgs))
		for _, m := range msgs {
			if !s.enqueue(withDelay(m.Stanza, host, m.Stamp)) {
				break
			}
			ids = append(ids, m.ID)
		}
		if len(ids) > 0 && !s.out.waitWritten(srv.writeTimeout()) {
			return // the session ended: the batch stays stored
		}
		if len(ids) > 0 {
			err = srv.dbCall("offline", func(ctx context.Context) error {
				_, err := srv.store().Offline().Delete(ctx, s.bare, ids...)
				return err
			})
			if err != nil {
				srv.logger().Warn("storage: delivered offline messages not deleted", "jid", s.full, "err", err)
				return
			}
			srv.db.offlineDelivered.Add(float64(len(ids)))
		}
		if len(ids) < n {
			return
		}
	}
}

// hasChild reports whether the stanza has a direct child ns:local.
func hasChild(st *xmlStanza, ns, local string) bool {
	depth := 0
	for _, t := range st.inner {
		switch t := t.(type) {
		case xml.StartElement:
			if depth == 0 && t.Name.Space == ns && t.Name.Local == local {
				return true
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return false
}

// withDelay adds <delay/> (XEP-0203) to a stored message: from the user's
// server, stamped with the time it was stored.
func withDelay(b []byte, from string, stamp time.Time) []byte {
	const end = "</message>"
	i := bytes.LastIndex(b, []byte(end))
	if i < 0 {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + 100)
	out.Write(b[:i])
	out.WriteString("<delay xmlns='" + nsDelay + "'")
	writeAttr(&out, "from", from)
	writeAttr(&out, "stamp", stamp.UTC().Format("2006-01-02T15:04:05.000000Z"))
	out.WriteString("/>")
	out.Write(b[i:])
	return out.Bytes()
}
