package keystore

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MaxKeyFileSize bounds what is read of a key file: a key is a few hundred
// bytes at most, and a path set to /dev/zero by mistake must not hang start-up.
const MaxKeyFileSize = 1 << 20

// asciiSpace is what trimming removes. Only ASCII: a raw binary key is not
// UTF-8, and bytes.TrimSpace would take a trailing 0xC2 0x85 (U+0085) for space.
const asciiSpace = " \t\n\v\f\r"

// source is where a store finds its keys.
type source struct {
	host      string
	dir       string
	lookupEnv func(string) (string, bool)
}

// abs is the absolute path of a file key, for reading and for error text.
func (src source) abs(path string) string {
	if !filepath.IsAbs(path) {
		path = filepath.Join(src.dir, path)
	}
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return filepath.Clean(path)
}

// newRAMKey draws size bytes from crypto/rand.
func newRAMKey(size int) (Key, error) {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return Key{}, err
	}
	return Key{b: b}, nil
}

// load reads one file or env key: trim, decode, refuse empty. A warning is
// returned for a file that group or others can read.
func (src source) load(spec KeySpec) (Key, *Warning, error) {
	e := &Error{Host: src.host, Key: spec.Name}
	var raw []byte
	var warn *Warning
	switch spec.Type {
	case TypeFile:
		e.File = src.abs(spec.Path)
		b, mode, err := readKeyFile(e.File)
		if err != nil {
			return Key{}, nil, e.withCause(err)
		}
		if mode&0o044 != 0 {
			warn = &Warning{Host: src.host, Key: spec.Name, File: e.File, Mode: mode}
		}
		raw = b
	case TypeEnv:
		e.Var = spec.Var
		v, ok := src.lookupEnv(spec.Var)
		if !ok {
			e.Reason = "not set"
			return Key{}, nil, e
		}
		raw = []byte(v)
	default:
		e.Reason = fmt.Sprintf("cannot load a key of type %q", spec.Type)
		return Key{}, nil, e
	}
	raw = bytes.Trim(raw, asciiSpace)
	if len(raw) == 0 {
		e.Reason = "empty key"
		return Key{}, nil, e
	}
	b, err := decode(spec.Encoding, raw)
	clear(raw)
	if err != nil {
		e.Reason = err.Error()
		return Key{}, nil, e
	}
	if len(b) == 0 {
		e.Reason = "empty key after decoding"
		return Key{}, nil, e
	}
	return Key{b: b}, warn, nil
}

// readKeyFile reads a regular file of at most MaxKeyFileSize bytes and
// returns its permission bits.
func readKeyFile(path string) ([]byte, os.FileMode, error) {
	// Stat before opening: opening a FIFO or a tty would block start-up.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if err := regular(fi); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil { // the file opened, not the one stat saw
		return nil, 0, err
	}
	if err := regular(fi); err != nil {
		return nil, 0, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, 0, err
	}
	if len(b) > MaxKeyFileSize {
		clear(b)
		return nil, 0, fmt.Errorf("larger than %d bytes, not a key file", MaxKeyFileSize)
	}
	return b, fi.Mode().Perm(), nil
}

func regular(fi os.FileInfo) error {
	switch {
	case fi.Mode().IsRegular():
		return nil
	case fi.IsDir():
		return errors.New("is a directory, not a key file")
	default:
		return errors.New("not a regular file")
	}
}

// decode turns a trimmed value into key bytes. Its errors name the encoding
// only: the decoders' own messages can quote an offending byte of the key.
func decode(encoding string, v []byte) ([]byte, error) {
	var (
		out []byte
		err error
	)
	switch encoding {
	case "", EncodingRaw:
		return append([]byte(nil), v...), nil
	case EncodingBase32:
		s := strings.ToUpper(strings.TrimRight(string(v), "="))
		out, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	case EncodingBase64:
		s := strings.TrimRight(string(v), "=")
		enc := base64.RawStdEncoding
		if strings.ContainsAny(s, "-_") {
			enc = base64.RawURLEncoding
		}
		out, err = enc.DecodeString(s)
	case EncodingHex:
		out, err = hex.DecodeString(string(v))
	default:
		return nil, fmt.Errorf("unknown encoding %q (raw, base32, base64, hex)", encoding)
	}
	if err != nil {
		clear(out)
		return nil, fmt.Errorf("value does not decode as %s", encoding)
	}
	return out, nil
}
