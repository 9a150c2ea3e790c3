package sasl

import "fmt"

// Keys is what the verifier needs of a keystore: a copy of a named key's bytes.
// *keystore.Store satisfies it.
type Keys interface {
	Key(name string) ([]byte, error)
}

// VersionedKeys is Keys for a keystore whose keys may have several versions
// that verify: Versions returns copies of them all, the one in force (what
// Key returns, what tokens are signed with) first. A verifier built from it
// accepts a token signed with any version, so a key rotates without a
// refused login. *keystore.Store satisfies it.
type VersionedKeys interface {
	Keys
	Versions(name string) ([][]byte, error)
}

// KeyMap is Keys from a map, for tests and for programs that hold their keys
// themselves.
type KeyMap map[string][]byte

// Key returns a copy of the named key.
func (m KeyMap) Key(name string) ([]byte, error) {
	k, ok := m[name]
	if !ok {
		return nil, errNoKey
	}
	return append([]byte(nil), k...), nil
}

// readVersions reads every version of the named key that verifies, the one
// in force first; a Keys that is not VersionedKeys has one.
func readVersions(keys Keys, host, name string) ([][]byte, error) {
	var (
		versions [][]byte
		err      error
	)
	if vk, ok := keys.(VersionedKeys); ok {
		versions, err = vk.Versions(name)
	} else {
		var k []byte
		k, err = keys.Key(name)
		versions = [][]byte{k}
	}
	if err != nil {
		return nil, fmt.Errorf("sasl: host %q: key %q: %w", host, name, err)
	}
	for i, k := range versions {
		if len(k) == 0 {
			if i == 0 {
				return nil, fmt.Errorf("sasl: host %q: key %q is empty", host, name)
			}
			return nil, fmt.Errorf("sasl: host %q: key %q: accepted version %d is empty", host, name, i)
		}
	}
	return versions, nil
}
