package keystore

import "fmt"

// Key types of KeySpec.Type.
const (
	TypeRAM  = "ram"  // random bytes made at start, never written anywhere
	TypeFile = "file" // a file's bytes
	TypeEnv  = "env"  // an environment variable's value
)

// Encodings of KeySpec.Encoding; "" means EncodingRaw.
const (
	EncodingRaw    = "raw"
	EncodingBase32 = "base32"
	EncodingBase64 = "base64"
	EncodingHex    = "hex"
)

// MaxRAMKeySize bounds ram_key_size: a key is a few hundred bytes at most, and a
// typo of a few digits must not make start-up allocate gigabytes.
const MaxRAMKeySize = 1 << 20

// Module is the name errors give the keystore's configuration section.
const Module = "mod_keystore"

// KeySpec is one entry of mod_keystore's keys list:
// { name = "access_secret", type = "file", path = "priv/x", encoding = "base32" }.
type KeySpec struct {
	Name     string `toml:"name"`
	Type     string `toml:"type"`     // "ram", "file" or "env"
	Path     string `toml:"path"`     // type "file": relative to the config file's folder
	Var      string `toml:"var"`      // type "env": the variable's name
	Encoding string `toml:"encoding"` // "raw" (default), "base32", "base64", "hex"
	// Accept lists other versions of the key that verify but are never
	// signed with: more paths for a file key, more variables for an env
	// key, read and decoded like the key itself. It is how a key rotates
	// without a refused login (see Store.Versions).
	Accept []string `toml:"accept"`
}

// Options are mod_keystore's options for one host.
type Options struct {
	RAMKeySize int       `toml:"ram_key_size"` // bytes for keys of type "ram"
	Keys       []KeySpec `toml:"keys"`
}

// DefaultOptions are the options of a host that configures nothing:
// two RAM keys, access_secret and otp_seed, of 2048 bytes.
func DefaultOptions() Options {
	return Options{
		RAMKeySize: 2048,
		Keys: []KeySpec{
			{Name: "access_secret", Type: "ram"},
			{Name: "otp_seed", Type: "ram"},
		},
	}
}

// Has reports whether the options name a key called name.
func (o Options) Has(name string) bool {
	for _, k := range o.Keys {
		if k.Name == name {
			return true
		}
	}
	return false
}

// Validate checks the options without reading any file or variable: a
// negative or huge ram_key_size, a key without a name, a name used twice, an unknown
// type or encoding, a file key without a path, an env key without a variable,
// a path or var on a key of another type, and a RAM key when ram_key_size is 0
// (it would be empty). The error is an *Error with Host left empty; New fills
// it in.
func (o Options) Validate() error {
	if o.RAMKeySize < 0 {
		return &Error{Reason: fmt.Sprintf("ram_key_size %d is negative", o.RAMKeySize)}
	}
	if o.RAMKeySize > MaxRAMKeySize {
		return &Error{Reason: fmt.Sprintf("ram_key_size %d is over %d bytes", o.RAMKeySize, MaxRAMKeySize)}
	}
	seen := make(map[string]bool, len(o.Keys))
	for i, k := range o.Keys {
		if k.Name == "" {
			return &Error{Reason: fmt.Sprintf("keys[%d] has no name", i)}
		}
		e := &Error{Key: k.Name}
		if seen[k.Name] {
			e.Reason = "name used twice"
			return e
		}
		seen[k.Name] = true
		switch k.Encoding {
		case "", EncodingRaw, EncodingBase32, EncodingBase64, EncodingHex:
		default:
			e.Reason = fmt.Sprintf("unknown encoding %q (raw, base32, base64, hex)", k.Encoding)
			return e
		}
		if err := k.validateAccept(e); err != nil {
			return err
		}
		switch k.Type {
		case TypeRAM:
			if k.Path != "" || k.Var != "" || k.Encoding != "" {
				e.Reason = "a ram key takes no path, var or encoding"
				return e
			}
			if o.RAMKeySize == 0 {
				e.Reason = "ram_key_size is 0, so this ram key would be empty"
				return e
			}
		case TypeFile:
			if k.Var != "" {
				e.Reason = "a file key takes path, not var"
				return e
			}
			if k.Path == "" {
				e.Reason = "a file key needs a path"
				return e
			}
		case TypeEnv:
			if k.Path != "" {
				e.Reason = "an env key takes var, not path"
				return e
			}
			if k.Var == "" {
				e.Reason = "an env key needs a var"
				return e
			}
		case "":
			e.Reason = "no type (ram, file, env)"
			return e
		default:
			e.Reason = fmt.Sprintf("unknown type %q (ram, file, env)", k.Type)
			return e
		}
	}
	return nil
}
