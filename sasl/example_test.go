package sasl_test

import (
	"bytes"
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

// An application backend mints with the host's two keys. A key file made
// by "xtokend genkey", with the default encoding "raw", holds the key as its
// text: the trimmed text is the key, as Prosody reads token_secret.
func ExampleMintToken() {
	secretFile := []byte("7Yx2kQ0pN3vR8sT1uW4zA6bC9dE2fG5hJ8kL1mN4pQ7=\n") // what genkey printed
	seedFile := []byte("Bq3/Zt8wXe1RfY6uHa0JkL4mNp7sVc2D5gT9iO3xW6y=\n")
	secret, seed := bytes.TrimSpace(secretFile), bytes.TrimSpace(seedFile)

	now := time.Now()
	token, expiresAt, err := sasl.MintToken(secret, seed, sasl.DefaultOptions(), "alice", "example.org", now)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(token), expiresAt.After(now))

	// The server, holding the same keys, logs the client in as alice.
	keys := sasl.KeyMap{"access_secret": secret, "otp_seed": seed}
	node, err := sasl.Verify(context.Background(), keys, sasl.DefaultOptions(), "alice", token, "example.org", now)
	fmt.Println(node, err)
	// Output:
	// 85 true
	// alice <nil>
}
