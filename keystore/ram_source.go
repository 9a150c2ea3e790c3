package keystore

import (
	"fmt"
	"slices"
)

// RAMSource gives a store its RAM keys in place of crypto/rand: in a
// cluster, every node must use the cluster's one key per (host, name), so
// the server fills them from the cluster node. It is called once per RAM key
// when the store is built (never by Reload) with the key's name and the
// configured ram_key_size; the bytes returned are copied.
type RAMSource func(name string, size int) ([]byte, error)

// NewWithRAM is New with RAM keys taken from ram rather than drawn from
// crypto/rand. A nil ram is New.
func NewWithRAM(host string, opts Options, dir string, lookupEnv func(string) (string, bool), ram RAMSource) (*Store, []Warning, error) {
	return newStore(host, opts, dir, lookupEnv, ram)
}

// ramFromSource asks the store's RAMSource for one RAM key.
func (s *Store) ramFromSource(name string) (Key, error) {
	b, err := s.ram(name, s.opts.RAMKeySize)
	if err != nil {
		return Key{}, &Error{Host: s.host, Key: name, Reason: "RAM key source", Err: err}
	}
	if len(b) == 0 {
		return Key{}, &Error{Host: s.host, Key: name, Reason: "RAM key source gave an empty key"}
	}
	return Key{b: slices.Clone(b)}, nil
}

// ReplaceRAM swaps the bytes of the RAM key called name, as Reload swaps a
// generation: lookups see the old key or the new one, never a mix. A cluster
// calls it when two clusters met and this node's key lost the merge. The
// caller builds new verifiers from the store afterwards. The bytes are
// copied.
func (s *Store) ReplaceRAM(name string, key []byte) error { return s.swapRAM(name, key, nil) }

// RotateRAM makes key the RAM key called name and keeps previous (the key
// it replaces, as the cluster hands it over) as its one accepted version
// (see Versions): tokens signed with it go on verifying until DropAccepted.
// The caller builds new verifiers from the store afterwards. The bytes are
// copied.
func (s *Store) RotateRAM(name string, key, previous []byte) error {
	if len(previous) == 0 {
		return &Error{Host: s.host, Key: name, Reason: "empty previous key"}
	}
	return s.swapRAM(name, key, previous)
}

// DropAccepted forgets the accepted versions of the key called name (a RAM
// key's previous version, once every token it signed has expired). It
// reports whether there were any.
func (s *Store) DropAccepted(name string) bool {
	s.reload.Lock()
	defer s.reload.Unlock()
	cur := s.current()
	if len(cur.accepted[name]) == 0 {
		return false
	}
	set := &keySet{keys: cur.keys, accepted: make(map[string][]Key, len(cur.accepted)), infos: cur.infos}
	for n, v := range cur.accepted {
		if n != name {
			set.accepted[n] = v
		}
	}
	s.set.Store(set)
	return true
}

func (s *Store) swapRAM(name string, key, previous []byte) error {
	if len(key) == 0 {
		return &Error{Host: s.host, Key: name, Reason: "empty key"}
	}
	s.reload.Lock()
	defer s.reload.Unlock()
	cur := s.current()
	old, ok := cur.keys[name]
	if !ok {
		return &Error{Host: s.host, Key: name, Reason: noSuchKey}
	}
	typ := ""
	for _, info := range cur.infos {
		if info.Name == name {
			typ = info.Type
		}
	}
	if typ != TypeRAM {
		return &Error{Host: s.host, Key: name, Reason: fmt.Sprintf("a %s key, not a ram key", typ)}
	}
	k := Key{b: slices.Clone(key)}
	if old.Equal(k) && previous == nil {
		return nil
	}
	set := &keySet{keys: make(map[string]Key, len(cur.keys)), accepted: make(map[string][]Key, len(cur.accepted)+1), infos: slices.Clone(cur.infos)}
	for n, v := range cur.keys {
		set.keys[n] = v
	}
	for n, v := range cur.accepted {
		set.accepted[n] = v
	}
	set.keys[name] = k
	if previous != nil {
		set.accepted[name] = []Key{{b: slices.Clone(previous)}}
	}
	for i := range set.infos {
		if set.infos[i].Name == name {
			set.infos[i].Size = k.Len()
		}
	}
	s.set.Store(set)
	return nil
}

// KeepRotation gives s the accepted versions of from's RAM keys (the old
// bytes of a rotation still in its window), for a store built afresh by a
// reload: RAM keys keep their bytes across a reload, and so do their
// rotations. Keys s lacks, or that are not RAM keys in s, are left alone.
// It reports whether it gave s any.
func (s *Store) KeepRotation(from *Store) bool {
	old := from.current()
	if len(old.accepted) == 0 {
		return false
	}
	s.reload.Lock()
	defer s.reload.Unlock()
	cur := s.current()
	set := &keySet{keys: cur.keys, accepted: make(map[string][]Key, len(cur.accepted)+len(old.accepted)), infos: cur.infos}
	for n, v := range cur.accepted {
		set.accepted[n] = v
	}
	kept := false
	for _, info := range cur.infos {
		if v, ok := old.accepted[info.Name]; ok && info.Type == TypeRAM {
			set.accepted[info.Name] = v
			kept = true
		}
	}
	if kept {
		s.set.Store(set)
	}
	return kept
}
