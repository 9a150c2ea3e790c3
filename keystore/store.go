package keystore

import (
	"os"
	"sort"
	"sync"
	"sync/atomic"
)

// Store is the keystore of one virtual host. It is safe for concurrent use;
// lookups never block, not even during Reload.
type Store struct {
	host string
	opts Options // a private copy
	src  source
	ram  RAMSource // nil: RAM keys come from crypto/rand

	reload sync.Mutex // one Reload at a time
	set    atomic.Pointer[keySet]
}

// keySet is one generation of keys. It is never modified once published.
type keySet struct {
	keys     map[string]Key
	accepted map[string][]Key // versions that verify besides keys[name] (Store.Versions)
	infos    []KeyInfo        // in configuration order
}

// KeyInfo describes a key without its value: what check-config and the admin
// API show.
type KeyInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"`               // "ram", "file", "env" (or "static", see NewStatic)
	Size     int    `json:"size"`               // bytes, after decoding
	Encoding string `json:"encoding,omitempty"` // file and env keys
	File     string `json:"file,omitempty"`     // file keys: the absolute path
	Var      string `json:"var,omitempty"`      // env keys: the variable's name
	// Accept are the other versions that verify (never sign): absolute
	// paths of file keys, variable names of env keys.
	Accept []string `json:"accept,omitempty"`
}

// New builds the keystore of host from its mod_keystore options: RAM keys
// are drawn, file and env keys read and decoded. Relative file paths are
// taken from dir (the config file's folder); lookupEnv reads environment
// variables (nil means os.LookupEnv; tests pass a map's lookup).
//
// The warnings are for the caller to log; the error is an *Error.
func New(host string, opts Options, dir string, lookupEnv func(string) (string, bool)) (*Store, []Warning, error) {
	return newStore(host, opts, dir, lookupEnv, nil)
}

func newStore(host string, opts Options, dir string, lookupEnv func(string) (string, bool), ram RAMSource) (*Store, []Warning, error) {
	if err := opts.Validate(); err != nil {
		err.(*Error).Host = host
		return nil, nil, err
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	s := &Store{
		host: host,
		opts: Options{RAMKeySize: opts.RAMKeySize, Keys: append([]KeySpec(nil), opts.Keys...)},
		src:  source{host: host, dir: dir, lookupEnv: lookupEnv},
		ram:  ram,
	}
	set, warns, err := s.build(nil)
	if err != nil {
		return nil, nil, err
	}
	s.set.Store(set)
	return s, warns, nil
}

// NewStatic makes a store that holds the given keys as they are, for tests
// and tools that already have the bytes. Reload keeps them. The bytes are copied.
func NewStatic(host string, keys map[string][]byte) (*Store, error) {
	set := &keySet{keys: make(map[string]Key, len(keys))}
	for name, b := range keys {
		if name == "" {
			return nil, &Error{Host: host, Reason: "a key has no name"}
		}
		if len(b) == 0 {
			return nil, &Error{Host: host, Key: name, Reason: "empty key"}
		}
		set.keys[name] = Key{b: append([]byte(nil), b...)}
	}
	names := make([]string, 0, len(keys))
	for name := range set.keys {
		names = append(names, name)
	}
	sort.Strings(names)
	s := &Store{host: host}
	for _, name := range names {
		k := set.keys[name]
		s.opts.Keys = append(s.opts.Keys, KeySpec{Name: name, Type: "static"})
		set.infos = append(set.infos, KeyInfo{Name: name, Type: "static", Size: k.Len()})
	}
	s.set.Store(set)
	return s, nil
}

// build makes a new generation of keys. RAM and static keys are taken from
// old when there is one, so a reload never changes them.
func (s *Store) build(old *keySet) (*keySet, []Warning, error) {
	set := &keySet{keys: make(map[string]Key, len(s.opts.Keys))}
	var warns []Warning
	for _, spec := range s.opts.Keys {
		info := KeyInfo{Name: spec.Name, Type: spec.Type}
		var k Key
		switch spec.Type {
		case TypeRAM, "static":
			if old != nil {
				k = old.keys[spec.Name]
				break
			}
			var err error
			if s.ram != nil {
				if k, err = s.ramFromSource(spec.Name); err != nil {
					return nil, nil, err
				}
				break
			}
			if k, err = newRAMKey(s.opts.RAMKeySize); err != nil {
				return nil, nil, &Error{Host: s.host, Key: spec.Name, Reason: "crypto/rand", Err: err}
			}
		default:
			var (
				w   *Warning
				err error
			)
			if k, w, err = s.src.load(spec); err != nil {
				return nil, nil, err
			}
			if w != nil {
				warns = append(warns, *w)
			}
			acc, aw, err := s.src.loadAccepted(spec, &info)
			if err != nil {
				return nil, nil, err
			}
			warns = append(warns, aw...)
			if len(acc) > 0 {
				if set.accepted == nil {
					set.accepted = make(map[string][]Key)
				}
				set.accepted[spec.Name] = acc
			}
			info.Encoding = spec.Encoding
			if info.Encoding == "" {
				info.Encoding = EncodingRaw
			}
			if spec.Type == TypeFile {
				info.File = s.src.abs(spec.Path)
			} else {
				info.Var = spec.Var
			}
		}
		info.Size = k.Len()
		set.keys[spec.Name] = k
		set.infos = append(set.infos, info)
	}
	return set, warns, nil
}

// Reload re-reads the file and env keys and swaps the new set in at once;
// RAM keys stay as they are. On error the store keeps its current keys, so a
// bad edit of a key file does not take a running server down.
func (s *Store) Reload() ([]Warning, error) {
	s.reload.Lock()
	defer s.reload.Unlock()
	set, warns, err := s.build(s.set.Load())
	if err != nil {
		return nil, err
	}
	s.set.Store(set)
	return warns, nil
}

// current is the generation in force; a zero Store holds no keys.
func (s *Store) current() *keySet {
	if set := s.set.Load(); set != nil {
		return set
	}
	return &keySet{}
}

// Host is the virtual host the store belongs to.
func (s *Store) Host() string { return s.host }

// Get returns the named key, or an error wrapping ErrNoKey.
func (s *Store) Get(name string) (Key, error) {
	k, ok := s.current().keys[name]
	if !ok {
		return Key{}, &Error{Host: s.host, Key: name, Reason: noSuchKey}
	}
	return k, nil
}

// Key returns a copy of the named key's bytes, or an error wrapping ErrNoKey.
// It never returns an empty key. It satisfies sasl.Keys.
func (s *Store) Key(name string) ([]byte, error) {
	k, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	return k.Bytes(), nil
}

// Has reports whether the store holds a key called name.
func (s *Store) Has(name string) bool {
	_, ok := s.current().keys[name]
	return ok
}

// List describes every key, in configuration order, without its value.
func (s *Store) List() []KeyInfo {
	return append([]KeyInfo(nil), s.current().infos...)
}

// SameKey reports whether s and other both hold a key called name with the
// same bytes: one key shared by two hosts lets a token for one host's user
// log in on the other's. The bytes never leave the stores.
func (s *Store) SameKey(other *Store, name string) bool {
	a, errA := s.Get(name)
	b, errB := other.Get(name)
	return errA == nil && errB == nil && a.Equal(b)
}
