package storage

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"time"
)

// offlineWriter commits the offline stores that arrive together in one
// transaction. A store is durable when it returns, so on SQLite each commit
// syncs the log to disk (synchronous=FULL), which is most of a store's
// time; stores waiting at the same moment share one sync. Each caller
// still waits for its own commit and gets its own answer (an ID, ErrLimit),
// and each user's messages keep their order.
type offlineWriter struct {
	s    *Store
	reqs chan *offlineReq
	quit chan struct{}
	done chan struct{}

	mu     sync.RWMutex // senders hold it shared; stop takes it to close
	closed bool
}

// offlineReq is one store waiting for its commit.
type offlineReq struct {
	user, from string
	stamp      time.Time
	stanza     []byte
	ctx        context.Context

	id     int64
	err    error
	answer chan struct{} // closed once id or err is set
}

// maxOfflineBatch bounds the stores of one transaction.
const maxOfflineBatch = 256

// offlineCommitTimeout bounds a batch's transaction: each caller waits at
// most its own context's time, the batch this long.
const offlineCommitTimeout = 30 * time.Second

var errStoreClosed = errors.New("the store is closed")

func startOfflineWriter(s *Store) *offlineWriter {
	w := &offlineWriter{s: s, reqs: make(chan *offlineReq, maxOfflineBatch), quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// store queues r and waits for its commit or ctx's end. A store whose ctx
// ends first may still be committed.
func (w *offlineWriter) store(ctx context.Context, r *offlineReq) (int64, error) {
	r.ctx, r.answer = ctx, make(chan struct{})
	// Queued only while the writer runs: stop waits for the senders, so
	// whatever they queued is answered (refuseQueued) once it has stopped.
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return 0, wrap(opOfflineStore, errStoreClosed)
	}
	select {
	case w.reqs <- r:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return 0, wrap(opOfflineStore, ctx.Err())
	}
	select {
	case <-r.answer:
		if r.err != nil {
			return 0, r.err // wrapped already
		}
		return r.id, nil
	case <-ctx.Done():
		return 0, wrap(opOfflineStore, ctx.Err())
	}
}

func (w *offlineWriter) run() {
	defer close(w.done)
	batch := make([]*offlineReq, 0, maxOfflineBatch)
	for {
		select {
		case r := <-w.reqs:
			batch = append(batch[:0], r)
		case <-w.quit:
			w.refuseQueued()
			return
		}
		// What queued while the last batch committed joins this one.
	more:
		for len(batch) < maxOfflineBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		w.commit(batch)
	}
}

// commit stores the batch's live requests in one transaction. When the
// transaction fails as a whole, each is tried again alone, so that one
// store's failure is not its neighbours'.
func (w *offlineWriter) commit(batch []*offlineReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			w.answer(r, wrap(opOfflineStore, err))
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if len(live) > 1 && w.tx(live) == nil {
		for _, r := range live {
			w.answer(r, r.err)
		}
		return
	}
	for _, r := range live {
		if err := w.tx([]*offlineReq{r}); err != nil {
			r.err = err // wrapped by the write
		}
		w.answer(r, r.err)
	}
}

// tx runs the stores in one transaction. A store over its user's cap gets
// ErrLimit in its err and the others go on; any other error fails the
// transaction.
func (w *offlineWriter) tx(reqs []*offlineReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), offlineCommitTimeout)
	defer cancel()
	o := Offline{w.s}
	// The users' locks in one order, so that two nodes' batches cannot
	// wait for each other.
	users := make([]string, 0, len(reqs))
	for _, r := range reqs {
		users = append(users, r.user)
	}
	slices.Sort(users)
	users = slices.Compact(users)
	return w.s.write(ctx, opOfflineStore, func(tx *sql.Tx) error {
		for _, u := range users {
			if err := w.s.lock(ctx, tx, "offline", u); err != nil {
				return err
			}
		}
		for _, r := range reqs {
			r.err = nil
			if err := o.storeOne(ctx, tx, r); err != nil {
				if !errors.Is(err, ErrLimit) {
					return err
				}
				r.err = wrap(opOfflineStore, err)
			}
		}
		return nil
	})
}

// answer gives r its outcome: nil, or an error wrapped as the store's.
func (w *offlineWriter) answer(r *offlineReq, err error) {
	r.err = err
	close(r.answer)
}

func (w *offlineWriter) refuseQueued() {
	for {
		select {
		case r := <-w.reqs:
			w.answer(r, wrap(opOfflineStore, errStoreClosed))
		default:
			return
		}
	}
}

// stop ends the writer once its batch in progress is committed; stores
// queued or arriving later get an error.
func (w *offlineWriter) stop() {
	w.mu.Lock()
	already := w.closed
	w.closed = true
	w.mu.Unlock()
	if !already {
		close(w.quit)
	}
	<-w.done
}
