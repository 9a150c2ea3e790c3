package cluster

import (
	"fmt"
	"sort"
	"time"
)

// A RAM key rotates cluster-wide: the node asked draws a new key of the
// same size for each RAM key of the host, one generation above the one in
// force, and keeps the old bytes beside it as prev until every token signed
// with them has expired. The new keys reach the other members as every new
// key does (pushKeys, then push/pull); a later generation wins the merge,
// so each member swaps it in and tells its server (Hooks.KeyReplaced), which
// keeps accepting prev until prevUntil. Then prev is wiped everywhere.

// RotateRAM replaces every RAM key of host the cluster holds and keeps the
// old ones verifying for keep. It returns the names rotated, sorted.
func (n *Node) RotateRAM(host string, keep time.Duration) ([]string, error) {
	select {
	case <-n.ready:
	default:
		return nil, fmt.Errorf("cluster: rotating the RAM keys of %q: the node is not ready", host)
	}
	names, encoded, err := n.keys.rotate(host, time.Now(), keep)
	if err != nil {
		return nil, fmt.Errorf("cluster: rotating the RAM keys of %q: %w", host, err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	n.pushKeys(encoded)
	time.AfterFunc(keep+time.Second, n.keys.forgetPrev)
	return names, nil
}

// RAMKeyVersions is RAMKey with the key a rotation replaced, while it still
// verifies (nil after until, or when the key was never rotated).
func (n *Node) RAMKeyVersions(host, name string) (cur, prev []byte, until time.Time, ok bool) {
	if cur, ok = n.RAMKey(host, name); !ok {
		return nil, nil, time.Time{}, false
	}
	n.keys.mu.RLock()
	defer n.keys.mu.RUnlock()
	k := n.keys.keys[keyID{host, name}]
	if k.prev != nil && time.Now().UnixNano() < k.prevUntil {
		prev, until = append([]byte(nil), k.prev...), time.Unix(0, k.prevUntil)
	}
	return cur, prev, until, true
}

// rotate draws the next generation of every key of host and returns their
// names and encoding (for pushKeys).
func (s *keySet) rotate(host string, now time.Time, keep time.Duration) ([]string, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	made := make(map[keyID]ramKey)
	var names []string
	for id, old := range s.keys {
		if id.host != host {
			continue
		}
		k, err := newRAMKey(len(old.bytes), now)
		if err != nil {
			return nil, nil, err
		}
		k.gen = old.gen + 1
		k.prev, k.prevUntil = old.bytes, now.Add(keep).UnixNano()
		clear(old.prev)
		made[id] = k
		names = append(names, id.name)
	}
	for id, k := range made {
		s.keys[id] = k
	}
	sort.Strings(names)
	return names, encodeKeys(made), nil
}

// forgetPrev wipes the replaced keys whose time is up.
func (s *keySet) forgetPrev() {
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, k := range s.keys {
		if k.prev != nil && now >= k.prevUntil {
			clear(k.prev)
			k.prev = nil
			s.keys[id] = k
		}
	}
}
