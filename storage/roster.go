package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Subscription is a roster item's subscription state (RFC 6121 section
// 2.1.2.5): whether the user sees the contact's presence ("to"), the
// contact sees the user's ("from"), both or neither.
type Subscription string

// Subscription states.
const (
	SubNone Subscription = "none"
	SubTo   Subscription = "to"
	SubFrom Subscription = "from"
	SubBoth Subscription = "both"
)

func (s Subscription) valid() bool {
	switch s {
	case SubNone, SubTo, SubFrom, SubBoth:
		return true
	}
	return false
}

// Item is one contact in a user's roster.
type Item struct {
	Contact      string   // the contact's bare JID
	Name         string   // the user's name for the contact; "" for none
	Groups       []string // in the order given; none is nil
	Subscription Subscription
	// Ask: the user asked to see the contact's presence and awaits the
	// answer ("pending out"; ask="subscribe" in a roster push).
	Ask bool
	// Approved: the user pre-approved the contact's subscription request
	// (RFC 6121 section 3.4).
	Approved bool
}

// Roster is a user's roster at one version.
type Roster struct {
	// Version grows with every change to the roster and never goes back,
	// also when items are removed: XEP-0237's ver. 0 is the roster no
	// change ever touched.
	Version int64
	Items   []Item // ordered by Contact
}

// Request is an inbound subscription request the user has not answered yet
// ("pending in"), kept to be delivered again at the user's next login.
type Request struct {
	Contact string    // who asked: a bare JID
	Stamp   time.Time // when it arrived
	Stanza  []byte    // the presence stanza as received, status and all
}

// Rosters are the users' rosters and their pending subscription requests.
type Rosters struct{ s *Store }

// Rosters returns the store's rosters.
func (s *Store) Rosters() Rosters { return Rosters{s} }

const rosterColumns = `i.contact, i.name, i.groups, i.subscription, i.ask, i.approved`

// Get returns the user's roster: its version and every item, in one
// snapshot. A user without a roster has version 0 and no items.
func (r Rosters) Get(ctx context.Context, user string) (Roster, error) {
	rt, err := r.GetText(ctx, user)
	if err != nil {
		return Roster{}, err
	}
	return Roster{Version: rt.Version, Items: rt.items()}, nil
}

// GetText is Get with the items left in the text the database aggregated
// them into, read one by one when asked for (RosterText.Item): what a
// session keeps, about one string per roster rather than a few per item.
func (r Rosters) GetText(ctx context.Context, user string) (RosterText, error) {
	if err := checkJID("user", user); err != nil {
		return RosterText{}, wrap("roster get", err)
	}
	// One statement, so one snapshot on both backends: the version read
	// is the one of the items read. The items come back as one text the
	// database aggregates (see rosterGet): a row and six columns per item
	// cost more in the drivers than reading the items themselves.
	var (
		ver sql.NullInt64
		agg sql.NullString // the drivers' own string: no copy
	)
	rows, err := r.s.read(ctx, rosterGet, user, user)
	if err != nil {
		return RosterText{}, wrap("roster get", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return RosterText{}, wrap("roster get", err)
		}
		return RosterText{}, wrap("roster get", errors.New("no row"))
	}
	if err := rows.Scan(&ver, &agg); err != nil {
		return RosterText{}, wrap("roster get", err)
	}
	rt, err := parseRosterText(agg.String)
	if err != nil {
		return RosterText{}, wrap("roster get", err)
	}
	rt.Version = ver.Int64
	return rt, wrap("roster get", rows.Close())
}

// rosterGet reads a roster's version and its items aggregated in one text:
// the items in contact order, separated by itemSeparator, each its columns
// separated by fieldSeparator, ask and approved as two digits at the end.
// string_agg is both backends' (SQLite's since 3.44). Its order is the
// scan's, which is not promised: decodeItems sorts, and an ORDER BY here
// would cost SQLite a sort of its own even where the index has the order.
const rosterGet = `SELECT (SELECT version FROM roster_versions WHERE username = ?),
	(SELECT string_agg(contact || '` + fieldSeparator + `' || name || '` + fieldSeparator + `' || groups || '` + fieldSeparator + `' ||
		subscription || '` + fieldSeparator + `' || ask || approved, '` + itemSeparator + `')
	FROM roster_items WHERE username = ?)`

// The separators of rosterGet's text: control characters that neither XML
// text (names, groups) nor a JID (checkJID) holds, as groupSeparator.
const (
	fieldSeparator = "\x1e"
	itemSeparator  = "\x1d"
)

// decodeItems reads rosterGet's text into items whose strings are slices
// of agg.
func decodeItems(agg string) ([]Item, error) {
	rt, err := parseRosterText(agg)
	if err != nil {
		return nil, err
	}
	return rt.items(), nil
}

// Version returns the user's roster version.
func (r Rosters) Version(ctx context.Context, user string) (int64, error) {
	if err := checkJID("user", user); err != nil {
		return 0, wrap("roster version", err)
	}
	var v int64
	err := r.s.readRow(ctx, `SELECT version FROM roster_versions WHERE username = ?`, user).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, wrap("roster version", err)
}

// GetItem returns the user's item for contact, or ErrNotFound.
func (r Rosters) GetItem(ctx context.Context, user, contact string) (Item, error) {
	if err := checkPair(user, contact); err != nil {
		return Item{}, wrap("roster get item", err)
	}
	var (
		it            Item
		groups, sub   string
		ask, approved int64
	)
	err := r.s.readRow(ctx, `SELECT `+rosterColumns+` FROM roster_items i
		WHERE i.username = ? AND i.contact = ?`, user, contact).
		Scan(&it.Contact, &it.Name, &groups, &sub, &ask, &approved)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, fmt.Errorf("storage: roster get item: %w", ErrNotFound)
	}
	if err != nil {
		return Item{}, wrap("roster get item", err)
	}
	err = fillItem(&it, groups, sub, ask != 0, approved != 0)
	return it, wrap("roster get item", err)
}

// Put adds the item to the user's roster or replaces the one for the same
// contact, and returns the roster's new version. A new item past the cap
// on items, or a name or group over its length, is ErrLimit.
func (r Rosters) Put(ctx context.Context, user string, it Item) (int64, error) {
	const op = "roster put"
	if err := checkPair(user, it.Contact); err != nil {
		return 0, wrap(op, err)
	}
	if err := r.checkItem(it); err != nil {
		return 0, wrap(op, err)
	}
	groups := strings.Join(it.Groups, groupSeparator)
	var ver int64
	err := r.s.write(ctx, op, func(tx *sql.Tx) error {
		var (
			exists int
			err    error
		)
		if ver, err = r.bump(ctx, tx, user); err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, r.s.q(`SELECT COUNT(*) FROM roster_items WHERE username = ? AND contact = ?`), user, it.Contact).Scan(&exists)
		if err != nil {
			return err
		}
		if exists == 0 {
			if err := r.checkCount(ctx, tx, user, "roster_items", "items"); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, r.s.q(`INSERT INTO roster_items
			(username, contact, name, groups, subscription, ask, approved) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (username, contact) DO UPDATE SET name = excluded.name, groups = excluded.groups,
			subscription = excluded.subscription, ask = excluded.ask, approved = excluded.approved`),
			user, it.Contact, it.Name, groups, string(it.Subscription), boolInt(it.Ask), boolInt(it.Approved))
		return err
	})
	if err != nil {
		return 0, err
	}
	return ver, nil
}

// Delete removes the user's item for contact and returns the roster's new
// version, or ErrNotFound when there is no such item. A pending request
// from the contact is kept: removing an item is not answering it.
func (r Rosters) Delete(ctx context.Context, user, contact string) (int64, error) {
	const op = "roster delete"
	if err := checkPair(user, contact); err != nil {
		return 0, wrap(op, err)
	}
	var ver int64
	err := r.s.write(ctx, op, func(tx *sql.Tx) error {
		var err error
		if ver, err = r.bump(ctx, tx, user); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, r.s.q(`DELETE FROM roster_items WHERE username = ? AND contact = ?`), user, contact)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound // rolls the version back too
		}
		return nil
	})
	return ver, err
}

// bump increments the user's roster version and returns the new one. Its
// row lock also serialises the user's roster changes on PostgreSQL.
func (r Rosters) bump(ctx context.Context, tx *sql.Tx, user string) (int64, error) {
	if err := r.s.lock(ctx, tx, "roster", user); err != nil {
		return 0, err
	}
	var ver int64
	err := tx.QueryRowContext(ctx, r.s.q(`INSERT INTO roster_versions (username, version) VALUES (?, 1)
		ON CONFLICT (username) DO UPDATE SET version = roster_versions.version + 1
		RETURNING version`), user).Scan(&ver)
	return ver, err
}

// checkCount refuses one more of the user's rows in table past the roster
// cap.
func (r Rosters) checkCount(ctx context.Context, tx *sql.Tx, user, table, what string) error {
	var n int
	if err := tx.QueryRowContext(ctx, r.s.q(`SELECT COUNT(*) FROM `+table+` WHERE username = ?`), user).Scan(&n); err != nil {
		return err
	}
	if n >= r.s.lim.rosterItems {
		return fmt.Errorf("%w: the roster has %d %s, the most allowed", ErrLimit, n, what)
	}
	return nil
}

func (r Rosters) checkItem(it Item) error {
	l := r.s.lim
	if !it.Subscription.valid() {
		return fmt.Errorf("%w: subscription %q (none, to, from or both)", ErrInvalid, it.Subscription)
	}
	if len(it.Name) > l.nameLength {
		return fmt.Errorf("%w: item name of %d bytes, over %d", ErrLimit, len(it.Name), l.nameLength)
	}
	if !xmlText(it.Name) {
		return fmt.Errorf("%w: item name is not UTF-8 XML text", ErrInvalid)
	}
	if len(it.Groups) > l.groupsPerItem {
		return fmt.Errorf("%w: %d groups, over %d", ErrLimit, len(it.Groups), l.groupsPerItem)
	}
	seen := make(map[string]bool, len(it.Groups))
	for _, g := range it.Groups {
		switch {
		case g == "":
			return fmt.Errorf("%w: empty group name", ErrInvalid) // RFC 6121 section 2.1.2.4
		case len(g) > l.groupLength:
			return fmt.Errorf("%w: group name of %d bytes, over %d", ErrLimit, len(g), l.groupLength)
		case !xmlText(g):
			return fmt.Errorf("%w: group name is not UTF-8 XML text", ErrInvalid)
		case seen[g]:
			return fmt.Errorf("%w: group %q given twice", ErrInvalid, g) // RFC 6121 section 2.3.3
		}
		seen[g] = true
	}
	return nil
}

// AddRequest keeps an inbound subscription request from contact, replacing
// an earlier one from the same contact. Past the roster cap of requests it
// is ErrLimit.
func (r Rosters) AddRequest(ctx context.Context, user string, req Request) error {
	const op = "roster add request"
	if err := checkPair(user, req.Contact); err != nil {
		return wrap(op, err)
	}
	return r.s.write(ctx, op, func(tx *sql.Tx) error {
		if err := r.s.lock(ctx, tx, "requests", user); err != nil {
			return err
		}
		var exists int
		err := tx.QueryRowContext(ctx, r.s.q(`SELECT COUNT(*) FROM roster_requests WHERE username = ? AND contact = ?`), user, req.Contact).Scan(&exists)
		if err != nil {
			return err
		}
		if exists == 0 {
			if err := r.checkCount(ctx, tx, user, "roster_requests", "pending subscription requests"); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, r.s.q(`INSERT INTO roster_requests (username, contact, stamp, stanza) VALUES (?, ?, ?, ?)
			ON CONFLICT (username, contact) DO UPDATE SET stamp = excluded.stamp, stanza = excluded.stanza`),
			user, req.Contact, req.Stamp.UnixMicro(), nonNil(req.Stanza))
		return err
	})
}

// Requests returns the user's pending inbound subscription requests, oldest
// first, to deliver at login.
func (r Rosters) Requests(ctx context.Context, user string) ([]Request, error) {
	if err := checkJID("user", user); err != nil {
		return nil, wrap("roster requests", err)
	}
	rows, err := r.s.read(ctx, `SELECT contact, stamp, stanza FROM roster_requests
		WHERE username = ? ORDER BY stamp, contact`, user)
	if err != nil {
		return nil, wrap("roster requests", err)
	}
	defer rows.Close()
	var out []Request
	for rows.Next() {
		var (
			req   Request
			stamp int64
		)
		if err := rows.Scan(&req.Contact, &stamp, &req.Stanza); err != nil {
			return nil, wrap("roster requests", err)
		}
		req.Stamp = time.UnixMicro(stamp).UTC()
		out = append(out, req)
	}
	return out, wrap("roster requests", rows.Err())
}

// Request returns the user's pending request from contact, or ErrNotFound:
// whether the pair is "pending in".
func (r Rosters) Request(ctx context.Context, user, contact string) (Request, error) {
	if err := checkPair(user, contact); err != nil {
		return Request{}, wrap("roster request", err)
	}
	req := Request{Contact: contact}
	var stamp int64
	err := r.s.readRow(ctx, `SELECT stamp, stanza FROM roster_requests WHERE username = ? AND contact = ?`,
		user, contact).Scan(&stamp, &req.Stanza)
	if errors.Is(err, sql.ErrNoRows) {
		return Request{}, fmt.Errorf("storage: roster request: %w", ErrNotFound)
	}
	if err != nil {
		return Request{}, wrap("roster request", err)
	}
	req.Stamp = time.UnixMicro(stamp).UTC()
	return req, nil
}

// DeleteRequest forgets the user's pending request from contact, once
// answered; it reports whether there was one.
func (r Rosters) DeleteRequest(ctx context.Context, user, contact string) (bool, error) {
	if err := checkPair(user, contact); err != nil {
		return false, wrap("roster delete request", err)
	}
	res, err := r.s.w.ExecContext(ctx, r.s.q(`DELETE FROM roster_requests WHERE username = ? AND contact = ?`), user, contact)
	if err != nil {
		return false, wrap("roster delete request", err)
	}
	n, err := res.RowsAffected()
	return n > 0, wrap("roster delete request", err)
}

// groupSeparator joins an item's groups in one column. It is a control
// character XML 1.0 does not allow, so no group name holds it.
const groupSeparator = "\x1f"

// fillItem decodes the columns an Item is stored in.
func fillItem(it *Item, groups, sub string, ask, approved bool) error {
	switch Subscription(sub) {
	case SubNone, SubTo, SubFrom, SubBoth:
		it.Subscription = Subscription(sub)
	default:
		return fmt.Errorf("item %q: subscription column holds %q", it.Contact, sub)
	}
	if groups != "" {
		it.Groups = strings.Split(groups, groupSeparator)
	}
	it.Ask, it.Approved = ask, approved
	return nil
}

func checkPair(user, contact string) error {
	if err := checkJID("user", user); err != nil {
		return err
	}
	return checkJID("contact", contact)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nonNil keeps NOT NULL columns from getting NULL for an empty value.
func nonNil[S ~[]E, E any](s S) S {
	if s == nil {
		return S{}
	}
	return s
}
