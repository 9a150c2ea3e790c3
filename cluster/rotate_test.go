package cluster

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

// TestKeySetRotate: a rotation draws a later generation of every key of
// one host, keeps the old bytes as prev until its time, wins the merge on
// every other member whatever the order states arrive in, and forgets prev
// when its time is up.
func TestKeySetRotate(t *testing.T) {
	now := time.Now()
	a := newKeySet()
	if _, err := a.ensure([]RAMKeySpec{{"one.test", "s", 32}, {"one.test", "o", 16}, {"two.test", "s", 32}}, now); err != nil {
		t.Fatal(err)
	}
	b := newKeySet()
	b.merge(a.keys)
	oldS, _ := a.get("one.test", "s")
	oldTwo, _ := a.get("two.test", "s")

	names, encoded, err := a.rotate("one.test", now, 50*time.Millisecond)
	if err != nil || !slices.Equal(names, []string{"o", "s"}) {
		t.Fatalf("rotate = %q, %v", names, err)
	}
	newS, _ := a.get("one.test", "s")
	if bytes.Equal(newS, oldS) || len(newS) != 32 {
		t.Fatal("the rotated key kept its bytes or changed its size")
	}
	if k := a.keys[keyID{"one.test", "s"}]; k.gen != 1 || !bytes.Equal(k.prev, oldS) {
		t.Fatalf("rotated key: gen %d, prev kept %t", k.gen, bytes.Equal(k.prev, oldS))
	}
	if two, _ := a.get("two.test", "s"); !bytes.Equal(two, oldTwo) {
		t.Fatal("another host's key was rotated")
	}

	remote, err := decodeKeys(encoded)
	if err != nil {
		t.Fatal(err)
	}
	replaced := b.merge(remote)
	if len(replaced) != 2 {
		t.Fatalf("merging the rotation replaced %v, want both keys of one.test", replaced)
	}
	if got, _ := b.get("one.test", "s"); !bytes.Equal(got, newS) {
		t.Fatal("the other member did not take the rotated key")
	}
	// An older state arriving later changes nothing.
	if replaced := a.merge(map[keyID]ramKey{{"one.test", "s"}: {created: 1, bytes: oldS}}); len(replaced) != 0 {
		t.Fatalf("an older generation replaced %v", replaced)
	}

	time.Sleep(60 * time.Millisecond)
	a.forgetPrev()
	if k := a.keys[keyID{"one.test", "s"}]; k.prev != nil {
		t.Fatal("prev kept after its time")
	}
	testEventually(t, func() bool { // b's timer, set by the merge
		b.mu.RLock()
		defer b.mu.RUnlock()
		return b.keys[keyID{"one.test", "s"}].prev == nil
	})
}

func testEventually(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition never held")
}
