package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"sync"
)

// File and env keys are not shared: each node reads its own file. Nodes
// that should serve the same users must read the same bytes, and a copy
// that was not updated everywhere makes tokens verify on some nodes only.
// So each node announces a fingerprint of every such key in its push/pull
// state, and a node that sees a peer's fingerprint differ from its own for
// the same (host, name) logs an error naming the peer, host and key.
//
// A fingerprint is HMAC-SHA256 under a key derived from the cluster secret,
// cut to 16 bytes: it says whether two keys are equal and nothing else, not
// even to someone who knows a candidate key but not the cluster secret.

const fingerprintSize = 16

type fingerprints struct {
	key []byte

	mu     sync.Mutex
	mine   map[keyID][fingerprintSize]byte
	warned map[string]bool // peer NUL host NUL name: logged once per difference
}

func newFingerprints(key []byte) *fingerprints {
	return &fingerprints{key: key, mine: make(map[keyID][fingerprintSize]byte), warned: make(map[string]bool)}
}

func (f *fingerprints) of(host, name string, key []byte) [fingerprintSize]byte {
	m := hmac.New(sha256.New, f.key)
	e := &encoder{}
	e.string(host)
	e.string(name)
	e.bytes(key)
	m.Write(e.b)
	var out [fingerprintSize]byte
	copy(out[:], m.Sum(nil))
	return out
}

// AnnounceKey tells the cluster this node has a file or env key of host
// named name with these bytes (not the bytes: a fingerprint). The server
// calls it for every file and env key after opening the keystores and after
// each reload. RAM keys need no announcing: they are the cluster's.
func (n *Node) AnnounceKey(host, name string, key []byte) {
	fp := n.fps.of(host, name, key)
	n.fps.mu.Lock()
	n.fps.mine[keyID{host, name}] = fp
	n.fps.mu.Unlock()
}

// compare checks a peer's fingerprints against this node's and returns the
// keys that differ and were not reported before.
func (f *fingerprints) compare(peer string, theirs map[keyID][fingerprintSize]byte) []keyID {
	f.mu.Lock()
	defer f.mu.Unlock()
	var differ []keyID
	for id, fp := range theirs {
		mine, ok := f.mine[id]
		if !ok {
			continue
		}
		tag := peer + "\x00" + id.host + "\x00" + id.name
		same := subtle.ConstantTimeCompare(mine[:], fp[:]) == 1
		if same {
			delete(f.warned, tag) // report again if it diverges later
			continue
		}
		if !f.warned[tag] {
			f.warned[tag] = true
			differ = append(differ, id)
		}
	}
	return differ
}

// state is what LocalState sends: the RAM keys, the sender's name and its
// key fingerprints.
func (n *Node) encodeState() []byte {
	e := &encoder{}
	e.bytes(n.keys.encode())
	e.string(n.name)
	n.fps.mu.Lock()
	e.uint(uint64(len(n.fps.mine)))
	for id, fp := range n.fps.mine {
		e.string(id.host)
		e.string(id.name)
		e.fixed(fp[:])
	}
	n.fps.mu.Unlock()
	return e.b
}

func decodeState(b []byte) (keys map[keyID]ramKey, sender string, fps map[keyID][fingerprintSize]byte, err error) {
	d := &decoder{b: b}
	keyBytes := d.bytes()
	sender = d.string()
	count := d.count(2 + fingerprintSize)
	fps = make(map[keyID][fingerprintSize]byte, count)
	for i := 0; i < count && d.err == nil; i++ {
		id := keyID{host: d.string(), name: d.string()}
		var fp [fingerprintSize]byte
		d.fixed(fp[:])
		fps[id] = fp
	}
	if err := d.done(); err != nil {
		return nil, "", nil, fmt.Errorf("state: %v", err)
	}
	keys, err = decodeKeys(keyBytes)
	if err != nil {
		return nil, "", nil, err
	}
	return keys, sender, fps, nil
}
