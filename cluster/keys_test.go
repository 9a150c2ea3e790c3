package cluster

import (
	"bytes"
	"testing"
	"time"
)

func TestKeyMergeIsOrderIndependent(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	early, _ := newRAMKey(16, now)
	late, _ := newRAMKey(16, now.Add(time.Second))
	tieA, _ := newRAMKey(16, now)
	tieB := tieA
	tieB.tie[15] ^= 0xff
	tieB.bytes = bytes.Repeat([]byte{7}, 16)
	for _, tc := range []struct {
		name   string
		a, b   ramKey
		winner ramKey
	}{
		{"earliest wins", late, early, early},
		{"tie broken by id", tieA, tieB, map[bool]ramKey{true: tieA, false: tieB}[tieA.wins(tieB)]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := keyID{"a.test", "access_secret"}
			for _, order := range [][2]ramKey{{tc.a, tc.b}, {tc.b, tc.a}} {
				s := newKeySet()
				s.merge(map[keyID]ramKey{id: order[0]})
				replaced := s.merge(map[keyID]ramKey{id: order[1]})
				got, _ := s.get(id.host, id.name)
				if !bytes.Equal(got, tc.winner.bytes) {
					t.Fatalf("order %v: kept the wrong key", order[0].created)
				}
				lostFirst := !bytes.Equal(order[0].bytes, tc.winner.bytes)
				if (len(replaced) == 1) != lostFirst {
					t.Fatalf("replaced %v, want a replacement: %v", replaced, lostFirst)
				}
			}
		})
	}
	if tieA.wins(tieA) {
		t.Fatal("a key wins over itself")
	}
}

func TestKeySetEnsureAndCodec(t *testing.T) {
	s := newKeySet()
	want := []RAMKeySpec{{"a.test", "access_secret", 64}, {"a.test", "otp_seed", 32}, {"b.test", "access_secret", 64}}
	made, err := s.ensure(want, time.Now())
	if err != nil || made == nil {
		t.Fatal(made, err)
	}
	if again, _ := s.ensure(want, time.Now()); again != nil {
		t.Fatal("ensure generated keys it had")
	}
	a1, _ := s.get("a.test", "access_secret")
	b1, _ := s.get("b.test", "access_secret")
	if len(a1) != 64 || bytes.Equal(a1, b1) {
		t.Fatal("keys not distinct random bytes of the wanted size")
	}
	decoded, err := decodeKeys(s.encode())
	if err != nil || len(decoded) != 3 {
		t.Fatal(decoded, err)
	}
	other := newKeySet()
	other.merge(decoded)
	if got, _ := other.get("a.test", "access_secret"); !bytes.Equal(got, a1) {
		t.Fatal("round trip changed a key")
	}
	// The copy returned is the caller's.
	a1[0] ^= 1
	if got, _ := s.get("a.test", "access_secret"); bytes.Equal(got, a1) {
		t.Fatal("get returned the set's own slice")
	}
}

func TestDecodeKeysRefuses(t *testing.T) {
	good := encodeKeys(map[keyID]ramKey{{"h", "n"}: {created: 1, bytes: []byte{1}}})
	empty := encodeKeys(map[keyID]ramKey{{"h", "n"}: {created: 1}})
	for name, b := range map[string][]byte{
		"nil":        nil,
		"version":    {9, 0},
		"huge count": {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"truncated":  good[:len(good)-1],
		"trailing":   append(append([]byte(nil), good...), 0),
		"empty key":  empty,
	} {
		if _, err := decodeKeys(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := decodeKeys(good); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeKeys(f *testing.F) {
	f.Add(encodeKeys(map[keyID]ramKey{{"h", "n"}: {created: 1, bytes: []byte{1, 2}}}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := decodeKeys(b)
		if err != nil {
			return
		}
		again, err := decodeKeys(encodeKeys(keys))
		if err != nil || len(again) != len(keys) {
			t.Fatalf("re-encoding failed: %v", err)
		}
	})
}
