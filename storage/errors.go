package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinels a caller maps to what it tells the client; test with errors.Is.
var (
	// ErrUnavailable: the database is down, locked, overloaded, or did not
	// answer before the context's deadline. Nothing was changed; the
	// client gets internal-server-error or resource-constraint.
	ErrUnavailable = errors.New("database unavailable")
	// ErrLimit: a cap (roster items, name length, offline queue...) would
	// be passed; the error text says which. Nothing was changed.
	ErrLimit = errors.New("limit reached")
	// ErrNotFound: no such roster item or pending request.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: an argument the store cannot take (an empty JID, an
	// unknown subscription state).
	ErrInvalid = errors.New("invalid argument")
	// ErrNewerSchema: the database was migrated by a newer xtokend; it is
	// left untouched.
	ErrNewerSchema = errors.New("database schema is newer than this xtokend")
)

// wrap prefixes err with the package and operation, adding ErrUnavailable
// when the cause is one a retry later could cure.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("storage: %s: %w: %w", op, ErrUnavailable, oneLine(err))
	}
	return fmt.Errorf("storage: %s: %w", op, oneLine(err))
}

// unavailable reports whether err says the database could not serve the
// call now, as opposed to a call the database refused on its merits.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources
			"57", // operator intervention: shutdown, cannot connect now
			"58", // system error
			"40": // serialization failure, deadlock: try again
			return true
		}
		return pe.Code == "55P03" // lock not available
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
			return true
		}
	}
	return false
}

// lineError keeps a multi-line driver error to one line for logs, keeping
// what it wraps for errors.Is and errors.As.
type lineError struct{ err error }

func (e lineError) Error() string {
	return strings.Join(strings.Fields(e.err.Error()), " ")
}
func (e lineError) Unwrap() error { return e.err }

func oneLine(err error) error {
	if strings.ContainsAny(err.Error(), "\n\r") {
		return lineError{err}
	}
	return err
}
