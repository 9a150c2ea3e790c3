package sasl

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// benchTokensPerWindow spreads the benchmark's tokens over time, as logins
// are, so that the replay cache holds about three windows of them (30,000
// entries) and expires the rest, as it would in service.
const benchTokensPerWindow = 10_000

var benchStart = time.Unix(1_800_000_000, 0)

// runParallel is b.RunParallel that also reports the process's CPU time per
// operation (cpu-ns/op), which other programs on the machine do not inflate.
func runParallel(b *testing.B, body func(*testing.PB)) {
	b.ReportAllocs()
	runtime.GC() // the garbage of making the inputs is not the benchmark's
	b.ResetTimer()
	start := processCPUTime()
	b.RunParallel(body)
	if cpu := processCPUTime() - start; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func benchTime(i int) time.Time {
	return benchStart.Add(time.Duration(i/benchTokensPerWindow) * 30 * time.Second)
}

// benchResponses mints n fresh SASL responses, laid out one after the other
// in one array: in service a response has just been decoded and is in the
// CPU cache, and a sequential layout lets the benchmark come close to that.
func benchResponses(b *testing.B, v *Verifier, n int, username string) [][]byte {
	size := len("\x00\x00") + len(username) + 40 + 1 + 44
	arena := make([]byte, 0, n*size)
	resps := make([][]byte, n)
	for i := range resps {
		tok, _, err := v.Mint("alice", benchTime(i))
		if err != nil {
			b.Fatal(err)
		}
		start := len(arena)
		arena = append(arena, 0)
		arena = append(arena, username...)
		arena = append(arena, 0)
		arena = append(arena, tok...)
		resps[i] = arena[start:len(arena):len(arena)]
	}
	return resps
}

// BenchmarkVerify is one full verification of a valid, fresh token,
// replay cache included, from all cores at once.
func BenchmarkVerify(b *testing.B) { benchVerify(b, "alice") }

// BenchmarkVerifyCaseMapped is BenchmarkVerify for a client that sends
// "Alice" with a token signed for "alice": the case rule's second HMAC (over
// the username as sent) is the difference.
func BenchmarkVerifyCaseMapped(b *testing.B) { benchVerify(b, "Alice") }

func benchVerify(b *testing.B, username string) {
	v := newTestVerifier(b, "localhost", DefaultOptions(), NewReplayCache(DefaultReplayCacheSize))
	resps := benchResponses(b, v, b.N+64*runtime.GOMAXPROCS(0), username) // runs of 64 may overshoot b.N
	// Goroutines take the responses in runs of 64, so that they do not
	// contend for one counter on every operation (the floor has none).
	const run = 64
	var next atomic.Int64
	runParallel(b, func(pb *testing.PB) {
		i, end := 0, 0
		for pb.Next() {
			if i == end {
				i = int(next.Add(run) - run)
				end = i + run
			}
			if _, err := v.Verify(context.Background(), resps[i], benchTime(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkVerifyForged is the cost of refusing a well-formed token with a
// wrong signature: what an attacker can make the server spend.
func BenchmarkVerifyForged(b *testing.B) {
	v := newTestVerifier(b, "localhost", DefaultOptions(), NewReplayCache(DefaultReplayCacheSize))
	tok, _, _ := v.Mint("alice", benchStart)
	resp := []byte("\x00mallory\x00" + tok)
	runParallel(b, func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(context.Background(), resp, benchStart); err != error(errSignature) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCryptoFloor is the bare cryptographic work of a verification: one
// HMAC-SHA1 and one HMAC-SHA256 over the same bytes (the signed string of a
// token), with hash states keyed once and reused. BenchmarkVerify's target is
// within twice this.
func BenchmarkCryptoFloor(b *testing.B) {
	keys := testKeys["localhost"]
	tok, _, _ := newTestVerifier(b, "localhost", DefaultOptions(), nil).Mint("alice", benchStart)
	msg := []byte(tok[:40] + "alice@localhost")
	runParallel(b, func(pb *testing.PB) {
		h1 := hmac.New(sha1.New, keys["otp_seed"])
		h256 := hmac.New(sha256.New, keys["access_secret"])
		var sum [32]byte
		for pb.Next() {
			h1.Reset()
			h1.Write(msg)
			h1.Sum(sum[:0])
			h256.Reset()
			h256.Write(msg)
			h256.Sum(sum[:0])
		}
	})
}
