package keystore

import "errors"

// Store is the keystore of one virtual host. STUB: the foundation helper replaces this.
type Store struct{}

// ErrNoKey is returned (wrapped) when a key name is not in the store.
var ErrNoKey = errors.New("keystore: no such key")

// Key returns a copy of the named key's bytes. It satisfies sasl.Keys.
func (s *Store) Key(name string) ([]byte, error) { return nil, ErrNoKey }
