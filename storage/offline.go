package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Message is a stored offline message.
type Message struct {
	ID     int64     // grows in the order messages were stored
	From   string    // the sender's full JID
	Stamp  time.Time // when it was stored: the <delay/> stamp (XEP-0203)
	Stanza []byte    // the message stanza as it will be delivered
}

// Offline are the users' queues of messages that arrived while they had no
// available resource (XEP-0160).
type Offline struct{ s *Store }

// Offline returns the store's offline queues.
func (s *Store) Offline() Offline { return Offline{s} }

// Store appends a message to the user's queue and returns its ID; when it
// returns nil the message is on disk. A full queue is ErrLimit (the sender
// gets service-unavailable). Stores that arrive together are committed
// together (see offlineWriter).
func (o Offline) Store(ctx context.Context, user, from string, stamp time.Time, stanza []byte) (int64, error) {
	if err := checkPair(user, from); err != nil {
		return 0, wrap(opOfflineStore, err)
	}
	return o.s.offline.store(ctx, &offlineReq{user: user, from: from, stamp: stamp, stanza: stanza})
}

const opOfflineStore = "offline store"

// storeOne appends one message in tx, past the user's lock.
func (o Offline) storeOne(ctx context.Context, tx *sql.Tx, r *offlineReq) error {
	var n int
	if err := tx.QueryRowContext(ctx, o.s.q(`SELECT COUNT(*) FROM offline_messages WHERE username = ?`), r.user).Scan(&n); err != nil {
		return err
	}
	if n >= o.s.lim.offline {
		return fmt.Errorf("%w: %d offline messages are waiting, the most allowed", ErrLimit, n)
	}
	return tx.QueryRowContext(ctx, o.s.q(`INSERT INTO offline_messages (username, sender, stamp, stanza)
		VALUES (?, ?, ?, ?) RETURNING id`), r.user, r.from, r.stamp.UnixMicro(), nonNil(r.stanza)).Scan(&r.id)
}

// Fetch returns up to limit of the user's messages (all when limit <= 0),
// oldest first. They stay stored until Delete: delete each once it is
// written to the session, so that a crash in between loses nothing.
func (o Offline) Fetch(ctx context.Context, user string, limit int) ([]Message, error) {
	if err := checkJID("user", user); err != nil {
		return nil, wrap("offline fetch", err)
	}
	q := `SELECT id, sender, stamp, stanza FROM offline_messages WHERE username = ? ORDER BY id`
	args := []any{user}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := o.s.read(ctx, q, args...)
	if err != nil {
		return nil, wrap("offline fetch", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var (
			m     Message
			stamp int64
		)
		if err := rows.Scan(&m.ID, &m.From, &stamp, &m.Stanza); err != nil {
			return nil, wrap("offline fetch", err)
		}
		m.Stamp = time.UnixMicro(stamp).UTC()
		out = append(out, m)
	}
	return out, wrap("offline fetch", rows.Err())
}

// Delete removes the user's messages with these IDs and says how many
// there were; IDs of other users' messages are left alone.
func (o Offline) Delete(ctx context.Context, user string, ids ...int64) (int, error) {
	const op = "offline delete"
	if err := checkJID("user", user); err != nil {
		return 0, wrap(op, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	total := 0
	err := o.s.write(ctx, op, func(tx *sql.Tx) error {
		total = 0
		for chunk := range chunks(ids, maxInList) {
			args := make([]any, 0, 1+len(chunk))
			args = append(args, user)
			for _, id := range chunk {
				args = append(args, id)
			}
			res, err := tx.ExecContext(ctx, o.s.q(`DELETE FROM offline_messages WHERE username = ? AND id IN (`+placeholders(len(chunk))+`)`), args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	return total, err
}

// Count returns how many messages wait for the user.
func (o Offline) Count(ctx context.Context, user string) (int, error) {
	if err := checkJID("user", user); err != nil {
		return 0, wrap("offline count", err)
	}
	var n int
	err := o.s.readRow(ctx, `SELECT COUNT(*) FROM offline_messages WHERE username = ?`, user).Scan(&n)
	return n, wrap("offline count", err)
}
