// Package storage keeps what must outlive a session: rosters with their
// pending subscription requests (RFC 6121), block lists (XEP-0191) and offline
// messages (XEP-0160), in SQLite (one file, the default) or PostgreSQL (what
// a cluster shares).
//
// A Store is opened once at start-up:
//
//	st, err := storage.Open(ctx, opts)
//	...
//	defer st.Close()
//	ver, err := st.Rosters().Put(ctx, "juliet@example.com", storage.Item{
//		Contact:      "romeo@example.net",
//		Subscription: storage.SubBoth,
//	})
//
// Open migrates the schema to the version this build knows; a database that
// a newer xtokend already migrated further is refused with ErrNewerSchema and
// left as it was.
//
// Every call takes a context, and callers on a session's read loop pass a
// short deadline: a database that is down, locked or slow makes the call
// fail with ErrUnavailable once the deadline passes, never hang. Other
// sentinels say what the caller tells the client: ErrLimit (a cap is
// reached: policy-violation, resource-constraint or service-unavailable,
// by protocol), ErrNotFound (item-not-found), ErrInvalid (bad-request).
// Every error text starts with "storage:" and names the operation; none
// carries the DSN or any stored content.
//
// JIDs are strings, given already normalised (PRECIS-prepared, bare where a
// bare JID is meant): the store compares them byte for byte.
//
// Durability: SQLite runs in WAL mode with synchronous=FULL, so a write whose
// call returned nil survives a kill -9 of the process; PostgreSQL commits are
// durable by its own defaults. A change that spans rows is one transaction,
// and a cap is checked inside it: on PostgreSQL under a per-user advisory
// lock, so that nodes of a cluster adding at once cannot pass it together.
// PostgreSQL 11 or newer is needed.
package storage
