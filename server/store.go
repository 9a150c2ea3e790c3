package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/roster"
	"github.com/xtokend/xtokend/storage"
)

// storeDeadline bounds every database call made on a session's read loop
// (and on the server's behalf): a database that is down, locked or slow
// costs a client one stanza error after this long, never a stalled stream.
const storeDeadline = 2 * time.Second

// storeState is what the server keeps of its database: the store ([storage]
// in the configuration; nil when storage is off, and then rosters, blocking
// and offline messages answer service-unavailable as before they existed),
// its metrics, and the locks that keep one user's offline queue delivered
// once.
type storeState struct {
	st *storage.Store

	offlineStored    prometheus.Counter
	offlineDelivered prometheus.Counter
	latency          *prometheus.HistogramVec

	delivering sync.Map // bare JID -> *sync.Mutex
	blocks     blockCache
	closeOnce  sync.Once
}

// openStore opens and migrates the configured database under ctx (New's),
// and registers its metrics. A database that cannot be opened is a start-up
// error, one line that never holds the DSN.
func (s *Server) openStore(ctx context.Context) error {
	opts, ok := s.cfg.StorageOptions()
	if !ok {
		return nil
	}
	st, err := storage.Open(ctx, opts)
	if err != nil {
		// One line naming the file: a missing folder, an unset dsn_env,
		// a database from a newer xtokend or one that does not answer.
		return &config.Error{File: s.cfg.Path, Err: err}
	}
	d := &s.db
	d.st = st
	d.offlineStored = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "xtokend_offline_stored_total",
		Help: "Messages stored for users with no available resource (XEP-0160).",
	})
	d.offlineDelivered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "xtokend_offline_delivered_total",
		Help: "Stored offline messages delivered to a session and removed.",
	})
	d.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "xtokend_storage_seconds",
		Help:    "Time of the database calls sessions wait for, by kind (roster, blocking, offline).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"kind"})
	for _, k := range []string{"roster", "blocking", "offline"} {
		d.latency.WithLabelValues(k)
	}
	if m := s.ops.metrics; m != nil {
		m.Registry().MustRegister(d.offlineStored, d.offlineDelivered, d.latency)
	}
	s.logger().Info("storage open", "backend", st.Backend(), "schema", storage.SchemaVersion())
	return nil
}

// closeStore closes the database once every session has ended.
func (s *Server) closeStore() {
	if s.db.st == nil {
		return
	}
	s.db.closeOnce.Do(func() {
		if err := s.db.st.Close(); err != nil {
			s.logger().Warn("storage: closing", "err", err)
		}
	})
}

// store is the open database, or nil when storage is off.
func (s *Server) store() *storage.Store { return s.db.st }

// dbCall runs fn under storeDeadline and records its time under kind.
func (s *Server) dbCall(kind string, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(s.ctx, storeDeadline)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	if s.db.latency != nil {
		s.db.latency.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	}
	return err
}

// storageError is the stanza error for a failed database call, and logs
// the failures that are the server's (the database down or broken), not the
// client's. limit is the condition a client over a cap gets.
func (s *Server) storageError(err error, limit stanza.Condition) (stanza.ErrorType, stanza.Condition, string) {
	switch {
	case errors.Is(err, storage.ErrLimit):
		return stanza.Cancel, limit, limitText(err)
	case errors.Is(err, storage.ErrNotFound):
		return stanza.Cancel, stanza.ItemNotFound, ""
	case errors.Is(err, storage.ErrInvalid):
		return stanza.Modify, stanza.BadRequest, ""
	case errors.Is(err, storage.ErrUnavailable):
		s.logger().Warn("storage unavailable", "err", err)
		return stanza.Wait, stanza.InternalServerError, "the server's database is unavailable; try again later"
	}
	s.logger().Error("storage", "err", err)
	return stanza.Wait, stanza.InternalServerError, "the server's database failed"
}

// limitText is what the store says of a cap, without its prefixes: "the
// roster has 1000 items, the most allowed".
func limitText(err error) string {
	if _, after, ok := strings.Cut(err.Error(), storage.ErrLimit.Error()+": "); ok {
		return after
	}
	return "a limit of this server is reached"
}

// subState reads what user's roster says of contact: the RFC 6121 state and
// the stored item (zero when there is none).
func (s *Server) subState(ctx context.Context, user, contact string) (roster.State, storage.Item, error) {
	rs := s.store().Rosters()
	var st roster.State
	it, err := rs.GetItem(ctx, user, contact)
	switch {
	case err == nil:
		st.InRoster = true
		st.Sub, _ = roster.ParseSubscription(string(it.Subscription))
		st.PendingOut, st.Approved = it.Ask, it.Approved
	case errors.Is(err, storage.ErrNotFound):
		it = storage.Item{Contact: contact, Subscription: storage.SubNone}
	default:
		return st, it, err
	}
	switch _, err := rs.Request(ctx, user, contact); {
	case err == nil:
		st.PendingIn = true
	case !errors.Is(err, storage.ErrNotFound):
		return st, it, err
	}
	return st, it, nil
}
