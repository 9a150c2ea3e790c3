package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// BlockLists are the users' block lists (XEP-0191): the JIDs each user
// receives nothing from and sends no presence to.
type BlockLists struct{ s *Store }

// BlockLists returns the store's block lists.
func (s *Store) BlockLists() BlockLists { return BlockLists{s} }

// List returns the JIDs the user blocks, sorted.
func (b BlockLists) List(ctx context.Context, user string) ([]string, error) {
	if err := checkJID("user", user); err != nil {
		return nil, wrap("blocklist", err)
	}
	rows, err := b.s.read(ctx, `SELECT jid FROM blocked_jids WHERE username = ? ORDER BY jid`, user)
	if err != nil {
		return nil, wrap("blocklist", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			return nil, wrap("blocklist", err)
		}
		out = append(out, j)
	}
	return out, wrap("blocklist", rows.Err())
}

// Block adds the JIDs to the user's block list; one already there is no
// change. All are added or, past the cap, none (ErrLimit).
func (b BlockLists) Block(ctx context.Context, user string, jids ...string) error {
	const op = "block"
	if err := checkJIDs(user, jids); err != nil {
		return wrap(op, err)
	}
	if len(jids) == 0 {
		return nil
	}
	return b.s.write(ctx, op, func(tx *sql.Tx) error {
		if err := b.s.lock(ctx, tx, "blocked", user); err != nil {
			return err
		}
		for _, j := range jids {
			_, err := tx.ExecContext(ctx, b.s.q(`INSERT INTO blocked_jids (username, jid) VALUES (?, ?)
				ON CONFLICT (username, jid) DO NOTHING`), user, j)
			if err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, b.s.q(`SELECT COUNT(*) FROM blocked_jids WHERE username = ?`), user).Scan(&n); err != nil {
			return err
		}
		if n > b.s.lim.blocked {
			return fmt.Errorf("%w: the block list would have %d JIDs, over %d", ErrLimit, n, b.s.lim.blocked)
		}
		return nil
	})
}

// Unblock removes the JIDs from the user's block list; one not there is no
// change.
func (b BlockLists) Unblock(ctx context.Context, user string, jids ...string) error {
	const op = "unblock"
	if err := checkJIDs(user, jids); err != nil {
		return wrap(op, err)
	}
	if len(jids) == 0 {
		return nil
	}
	return b.s.write(ctx, op, func(tx *sql.Tx) error {
		for chunk := range chunks(jids, maxInList) {
			args := make([]any, 0, 1+len(chunk))
			args = append(args, user)
			for _, j := range chunk {
				args = append(args, j)
			}
			_, err := tx.ExecContext(ctx, b.s.q(`DELETE FROM blocked_jids WHERE username = ? AND jid IN (`+placeholders(len(chunk))+`)`), args...)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// UnblockAll empties the user's block list and says how many JIDs it held.
func (b BlockLists) UnblockAll(ctx context.Context, user string) (int, error) {
	if err := checkJID("user", user); err != nil {
		return 0, wrap("unblock all", err)
	}
	res, err := b.s.w.ExecContext(ctx, b.s.q(`DELETE FROM blocked_jids WHERE username = ?`), user)
	if err != nil {
		return 0, wrap("unblock all", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("unblock all", err)
}

// IsBlocked reports whether the user blocks jid, a full, bare or domain
// JID: it is blocked when the list holds it or any JID it falls under, as
// XEP-0191 section 3.4 (through XEP-0016) orders: user@domain/resource,
// user@domain, domain/resource, domain. One indexed read.
func (b BlockLists) IsBlocked(ctx context.Context, user, jid string) (bool, error) {
	if err := checkPair(user, jid); err != nil {
		return false, wrap("is blocked", err)
	}
	cand := coveringJIDs(jid)
	args := make([]any, 0, 1+len(cand))
	args = append(args, user)
	for _, c := range cand {
		args = append(args, c)
	}
	var n int
	err := b.s.readRow(ctx, `SELECT COUNT(*) FROM blocked_jids WHERE username = ? AND jid IN (`+placeholders(len(cand))+`)`, args...).Scan(&n)
	return n > 0, wrap("is blocked", err)
}

// Covers reports whether a block list (as List returns it) covers jid by
// the rule IsBlocked applies: for a caller that keeps the list in memory.
func Covers(list []string, jid string) bool {
	for _, c := range coveringJIDs(jid) {
		for _, b := range list {
			if b == c {
				return true
			}
		}
	}
	return false
}

// coveringJIDs are the block list entries that would cover jid.
func coveringJIDs(jid string) []string {
	bare, resource, hasResource := strings.Cut(jid, "/")
	domain := bare
	if i := strings.IndexByte(bare, '@'); i >= 0 {
		domain = bare[i+1:]
	}
	out := []string{jid}
	add := func(c string) {
		for _, have := range out {
			if have == c {
				return
			}
		}
		out = append(out, c)
	}
	add(bare)
	if hasResource {
		add(domain + "/" + resource)
	}
	add(domain)
	return out
}

func checkJIDs(user string, jids []string) error {
	if err := checkJID("user", user); err != nil {
		return err
	}
	for _, j := range jids {
		if err := checkJID("blocked", j); err != nil {
			return err
		}
	}
	return nil
}

// maxInList bounds the values of one IN (...) list.
const maxInList = 500

// chunks yields s in pieces of at most n.
func chunks[E any](s []E, n int) func(func([]E) bool) {
	return func(yield func([]E) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}
