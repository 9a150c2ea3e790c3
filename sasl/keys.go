package sasl

// Keys is what the verifier needs of a keystore: a copy of a named key's bytes.
// *keystore.Store satisfies it.
type Keys interface {
	Key(name string) ([]byte, error)
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
