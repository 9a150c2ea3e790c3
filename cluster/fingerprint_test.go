package cluster

import (
	"context"
	"slices"
	"sync"
	"testing"
)

func TestFingerprintMismatchIsReported(t *testing.T) {
	secret := writeSecret(t)
	var mu sync.Mutex
	var seen []string
	start := func(name string, join []string) *Node {
		opts := Options{NodeName: name, Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: join, SecretFile: secret, tune: fastTimers}
		n, err := Start(context.Background(), opts, testLogger(t), Hooks{KeyMismatch: func(peer, host, key string) {
			mu.Lock()
			seen = append(seen, name+" sees "+peer+" "+host+"/"+key)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Stop(context.Background()) })
		n.AnnounceKey("a.test", "same", []byte("k"))
		n.AnnounceKey("a.test", "differs", []byte("value of "+name))
		n.AnnounceKey(name+".test", "only_here", []byte("k"))
		if err := n.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
		return n
	}
	a := start("a", nil)
	start("b", []string{a.GossipAddr()})
	want := []string{"a sees b a.test/differs", "b sees a a.test/differs"}
	eventually(t, "both nodes report the differing key", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(seen, want[0]) && slices.Contains(seen, want[1])
	})
	// Periodic push/pull must not report it again, and nothing else is.
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(seen)
	seen = slices.Compact(seen)
	if !slices.Equal(seen, want) {
		t.Fatalf("reported %v, want %v", seen, want)
	}
}

func TestFingerprintsHideKeys(t *testing.T) {
	s1, _ := derive(make([]byte, 32))
	s2, _ := derive(append(make([]byte, 31), 1))
	f1, f2 := newFingerprints(s1.fingerprint), newFingerprints(s2.fingerprint)
	if f1.of("h", "k", []byte("x")) == f2.of("h", "k", []byte("x")) {
		t.Fatal("fingerprint does not depend on the cluster secret")
	}
	if f1.of("h", "k", []byte("x")) == f1.of("h", "k2", []byte("x")) || f1.of("h", "k", []byte("x")) == f1.of("h", "k", []byte("y")) {
		t.Fatal("fingerprint does not bind name and key")
	}
}

func FuzzDecodeState(f *testing.F) {
	e := &encoder{}
	e.bytes(encodeKeys(map[keyID]ramKey{{"h", "n"}: {created: 1, bytes: []byte{1}}}))
	e.string("n1")
	e.uint(1)
	e.string("h")
	e.string("file_key")
	e.fixed(make([]byte, fingerprintSize))
	f.Add(e.b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeState(b) // must not panic or allocate by a peer's count
	})
}
