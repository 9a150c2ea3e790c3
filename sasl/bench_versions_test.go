package sasl

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkVerifyForgedVersions is BenchmarkVerifyForged with 1, 2 and 3
// accepted versions of each key (a key in rotation): a forged token costs
// one HMAC-SHA256 more per secret version, and nothing more per seed
// version (their OTP codes are cached per time step).
func BenchmarkVerifyForgedVersions(b *testing.B) {
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("versions=%d", n), func(b *testing.B) {
			keys := versionedKeys{}
			for i := range n {
				keys["access_secret"] = append(keys["access_secret"], []byte(fmt.Sprintf("access secret version %d", i)))
				keys["otp_seed"] = append(keys["otp_seed"], []byte(fmt.Sprintf("otp seed version %d....", i)))
			}
			v, err := NewVerifier("localhost", keys, DefaultOptions(), NewReplayCache(DefaultReplayCacheSize))
			if err != nil {
				b.Fatal(err)
			}
			tok, _, _ := v.Mint("alice", benchStart)
			resp := []byte("\x00mallory\x00" + tok)
			runParallel(b, func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(context.Background(), resp, benchStart); err != error(errSignature) {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
