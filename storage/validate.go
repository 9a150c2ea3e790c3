package storage

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxJIDLength is the longest JID RFC 7622 allows: three parts of 1023
// bytes and their two separators.
const maxJIDLength = 3071

// checkJID refuses what cannot be a JID the caller prepared. The store
// compares JIDs as given; preparing them is the caller's job.
func checkJID(what, jid string) error {
	switch {
	case jid == "":
		return fmt.Errorf("%w: empty %s JID", ErrInvalid, what)
	case len(jid) > maxJIDLength:
		return fmt.Errorf("%w: %s JID of %d bytes, over %d", ErrInvalid, what, len(jid), maxJIDLength)
	case !utf8.ValidString(jid):
		return fmt.Errorf("%w: %s JID is not UTF-8", ErrInvalid, what)
	case strings.ContainsFunc(jid, isControl):
		// No JID holds one (RFC 7622's PRECIS classes refuse them); the
		// roster's aggregated read relies on that for its separators.
		return fmt.Errorf("%w: %s JID holds a control character", ErrInvalid, what)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// xmlText reports whether s is UTF-8 made only of characters XML 1.0
// allows (section 2.2): what a roster item's name or group can carry.
func xmlText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return false
		}
	}
	return true
}
