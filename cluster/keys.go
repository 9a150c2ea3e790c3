package cluster

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"sort"
	"sync"
	"time"
)

// RAMKeySpec names a RAM key this node's configuration wants: host and key
// name as in mod_keystore, Size its ram_key_size.
type RAMKeySpec struct {
	Host string
	Name string
	Size int
}

// keyID identifies one key of the cluster.
type keyID struct{ host, name string }

// ramKey is one RAM key and what the merge orders it by.
type ramKey struct {
	gen     uint64   // rotations so far (Node.RotateRAM)
	created int64    // unix nanoseconds at the generating node
	tie     [16]byte // random; breaks ties of created
	bytes   []byte
	// prev is the key a rotation replaced, which verifies until prevUntil
	// (unix nanoseconds); nil when none does.
	prev      []byte
	prevUntil int64
}

// wins reports whether k is kept over o: the later rotation, then the
// earliest creation, then the lowest tie id. Every node orders any two keys
// the same way, so the whole cluster ends on the same key whatever order
// states arrive in.
func (k ramKey) wins(o ramKey) bool {
	if k.gen != o.gen {
		return k.gen > o.gen
	}
	if k.created != o.created {
		return k.created < o.created
	}
	return bytes.Compare(k.tie[:], o.tie[:]) < 0
}

func newRAMKey(size int, now time.Time) (ramKey, error) {
	k := ramKey{created: now.UnixNano(), bytes: make([]byte, size)}
	if _, err := rand.Read(k.tie[:]); err != nil {
		return ramKey{}, err
	}
	if _, err := rand.Read(k.bytes); err != nil {
		return ramKey{}, err
	}
	return k, nil
}

// keySet is the cluster's RAM keys as this node knows them. It lives in
// memory only: memberlist's push/pull carries it to joining nodes.
type keySet struct {
	mu   sync.RWMutex
	keys map[keyID]ramKey
}

func newKeySet() *keySet { return &keySet{keys: make(map[keyID]ramKey)} }

func (s *keySet) get(host, name string) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[keyID{host, name}]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), k.bytes...), true
}

// ensure generates the wanted keys the set lacks and returns them encoded
// (nil when none was missing), for pushing to the other members.
func (s *keySet) ensure(want []RAMKeySpec, now time.Time) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	made := make(map[keyID]ramKey)
	for _, w := range want {
		id := keyID{w.Host, w.Name}
		if _, ok := s.keys[id]; ok {
			continue
		}
		if _, ok := made[id]; ok {
			continue
		}
		k, err := newRAMKey(w.Size, now)
		if err != nil {
			return nil, fmt.Errorf("%s: generating RAM key %q of host %q: %v", Section, w.Name, w.Host, err)
		}
		made[id] = k
		s.keys[id] = k
	}
	if len(made) == 0 {
		return nil, nil
	}
	return encodeKeys(made), nil
}

// merge folds a remote set into this one and returns the keys whose bytes
// changed (a key this node had and lost to an earlier one).
func (s *keySet) merge(remote map[keyID]ramKey) (replaced []keyID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, rk := range remote {
		lk, ok := s.keys[id]
		if ok && !rk.wins(lk) {
			continue
		}
		s.keys[id] = rk
		if ok {
			replaced = append(replaced, id)
		}
		if rk.prev != nil { // a rotation: its old key goes when its time is up
			time.AfterFunc(time.Until(time.Unix(0, rk.prevUntil))+time.Second, s.forgetPrev)
		}
	}
	sort.Slice(replaced, func(i, j int) bool {
		if replaced[i].host != replaced[j].host {
			return replaced[i].host < replaced[j].host
		}
		return replaced[i].name < replaced[j].name
	})
	return replaced
}

func (s *keySet) encode() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return encodeKeys(s.keys)
}

// keySetVersion 2 added rotations: gen, prev, prevUntil.
const keySetVersion = 2

// encodeKeys writes: version, count, then per key host, name, gen, created,
// tie, bytes, prev, prevUntil.
func encodeKeys(keys map[keyID]ramKey) []byte {
	e := &encoder{}
	e.uint(keySetVersion)
	e.uint(uint64(len(keys)))
	for id, k := range keys {
		e.string(id.host)
		e.string(id.name)
		e.uint(k.gen)
		e.int(k.created)
		e.fixed(k.tie[:])
		e.bytes(k.bytes)
		e.bytes(k.prev)
		e.int(k.prevUntil)
	}
	return e.b
}

// decodeKeys reads encodeKeys' output. An empty key is refused: it would
// verify nothing and mint forgeable tokens.
func decodeKeys(b []byte) (map[keyID]ramKey, error) {
	d := &decoder{b: b}
	if v := d.uint(); d.err == nil && v != keySetVersion {
		return nil, fmt.Errorf("key set version %d, want %d", v, keySetVersion)
	}
	n := d.count(2 + 1 + 1 + 16 + 2 + 1 + 1)
	keys := make(map[keyID]ramKey, n)
	for i := 0; i < n && d.err == nil; i++ {
		id := keyID{host: d.string(), name: d.string()}
		var k ramKey
		k.gen = d.uint()
		k.created = d.int()
		d.fixed(k.tie[:])
		k.bytes = d.bytes()
		if k.prev = d.bytes(); len(k.prev) == 0 {
			k.prev = nil
		}
		k.prevUntil = d.int()
		if d.err == nil && len(k.bytes) == 0 {
			return nil, fmt.Errorf("key %q of host %q is empty", id.name, id.host)
		}
		keys[id] = k
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("key set: %v", err)
	}
	return keys, nil
}

// wipe zeroes and forgets every key: a stopped node keeps none in memory.
func (s *keySet) wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, k := range s.keys {
		clear(k.bytes)
		clear(k.prev)
		delete(s.keys, id)
	}
}
