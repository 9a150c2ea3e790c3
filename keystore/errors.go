package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ErrNoKey is returned (wrapped) when a key name is not in the store.
var ErrNoKey = errors.New("keystore: no such key")

// Error is a keystore error: one line naming the host, the module, the key
// and the file or environment variable involved. It never holds key bytes.
type Error struct {
	Host   string // the virtual host ("" from Options.Validate)
	Key    string // the key's name, when one is involved
	File   string // the key file's absolute path, for file keys
	Var    string // the environment variable, for env keys
	Reason string // what went wrong, e.g. "open" or "value does not decode as hex"
	Err    error  // the cause, if any (an *fs.PathError is shortened to its errno)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("keystore: ")
	if e.Host != "" {
		fmt.Fprintf(&b, "host %q: ", e.Host)
	}
	b.WriteString(Module)
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %q", e.Key)
	}
	if e.File != "" {
		fmt.Fprintf(&b, ": file %q", e.File)
	}
	if e.Var != "" {
		fmt.Fprintf(&b, ": env %q", e.Var)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(oneLine(e.Err.Error()))
	}
	return b.String()
}

// noSuchKey is the Reason of a lookup of a name the store does not hold.
const noSuchKey = "no such key"

// Is makes errors.Is(err, ErrNoKey) true for a failed lookup.
func (e *Error) Is(target error) bool { return target == ErrNoKey && e.Reason == noSuchKey }

// Unwrap returns the cause, so errors.Is(err, fs.ErrNotExist) works.
func (e *Error) Unwrap() error { return e.Err }

// withCause records err; a *fs.PathError becomes into Reason "open" and Err "no such file or
// directory": the path is already in Error.File, saying it twice makes the
// line hard to read.
func (e *Error) withCause(err error) *Error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		e.Reason = pe.Op
		if pe.Op == "stat" || pe.Op == "lstat" {
			e.Reason = "open" // the stat is how we open safely; the operator's word is "open"
		}
		e.Err = pe.Err
		return e
	}
	e.Err = err
	return e
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// Warning is something the keystore accepts but an operator should hear of:
// a key file that group or others can read. The caller logs it (with slog,
// say); it never holds key bytes.
type Warning struct {
	Host string
	Key  string
	File string
	Mode fs.FileMode // the file's permission bits
}

func (w Warning) String() string {
	return fmt.Sprintf("keystore: host %q: %s: key %q: file %q: readable by group or others (mode %#o); chmod 600 it",
		w.Host, Module, w.Key, w.File, uint32(w.Mode.Perm()))
}
