package keystore

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[redacted]"

// Key is a key's bytes behind a type that will not print them: fmt (every
// verb, %v %s %x %q %#v alike), log/slog and encoding/json or TOML all see
// "[redacted]". Bytes returns a copy for the code that must use them.
// The zero Key is empty.
type Key struct {
	b []byte // never modified after the Key is made
}

// Len is the key's size in bytes. Sizes are not secret; check-config prints them.
func (k Key) Len() int { return len(k.b) }

// Bytes returns a copy of the key's bytes: the caller may keep or wipe it.
func (k Key) Bytes() []byte { return append([]byte(nil), k.b...) }

// Equal reports whether both keys hold the same bytes, in constant time for
// keys of equal length.
func (k Key) Equal(o Key) bool {
	return len(k.b) == len(o.b) && subtle.ConstantTimeCompare(k.b, o.b) == 1
}

func (k Key) String() string   { return redacted }
func (k Key) GoString() string { return redacted }

// Format prints [redacted] for every verb, so %x and %q do not leak either.
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue makes slog print [redacted].
func (k Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText makes text encoders (JSON, TOML) print [redacted].
func (k Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }
