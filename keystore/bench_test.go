package keystore_test

import (
	"testing"

	"github.com/xtokend/xtokend/keystore"
)

func BenchmarkKey(b *testing.B) {
	s, _, err := keystore.New("h", keystore.DefaultOptions(), "", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Key("access_secret"); err != nil {
			b.Fatal(err)
		}
	}
}
