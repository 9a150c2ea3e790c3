package sasl_test

import (
	"context"
	"fmt"
	"time"

	"github.com/xtokend/xtokend/sasl"
)

// A server makes one verifier per host, all sharing one replay cache; an
// application backend mints tokens with the same keys.
func ExampleVerifier() {
	keys := sasl.KeyMap{
		"access_secret": []byte("a long random secret"),
		"otp_seed":      []byte("a long random seed"),
	}
	replay := sasl.NewReplayCache(sasl.DefaultReplayCacheSize)
	v, err := sasl.NewVerifier("example.org", keys, sasl.DefaultOptions(), replay)
	if err != nil {
		panic(err)
	}

	now := time.Now()
	token, _, err := v.Mint("alice", now)
	if err != nil {
		panic(err)
	}

	// The client's SASL initial response: authzid NUL username NUL token.
	response := []byte("\x00Alice\x00" + token)
	node, err := v.Verify(context.Background(), response, now)
	fmt.Println(node, err)

	// A token is good once.
	_, err = v.Verify(context.Background(), response, now)
	fmt.Println(err)
	// Output:
	// alice <nil>
	// sasl: not-authorized: token already used
}
