package config_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/sasl"
)

// TestFromProsody follows the README's "Moving a Prosody mod_auth_token host
// over": Prosody's token_secret goes in a raw key file, its otp_seed in a
// base32 one, and the tokens of an independent implementation of Prosody's
// layout then log in through the keystores the config opens.
func TestFromProsody(t *testing.T) {
	b, err := os.ReadFile("../sasl/testdata/xtoken-vectors.json") // sasl's copy of the shared vectors
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		Seed   string `json:"otp_seed_base32"`
		Secret string `json:"access_secret_raw"`
		Tokens []struct {
			Node, Host, Token string
			UnixTime          int64 `json:"unix_time"`
		}
	}
	if err := json.Unmarshal(b, &vectors); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, value := range map[string]string{"priv/access_secret": vectors.Secret, "priv/otp_seed": vectors.Seed} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil { // as an editor saves it
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(`
[general]
hosts = ["localhost", "first.com"]
allow_shared_keys = true   # the vectors use one key pair for both hosts

[modules.mod_keystore]
keys = [
  { name = "access_secret", type = "file", path = "priv/access_secret" },
  { name = "otp_seed",      type = "file", path = "priv/otp_seed", encoding = "base32" },
]

[modules.mod_auth_token]
otp_digits = 8
otp_period = 30
nonce_digits = 32
replay_protection = false
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	stores, err := cfg.OpenKeystores()
	if err != nil {
		t.Fatal(err)
	}
	if len(vectors.Tokens) == 0 {
		t.Fatal("no tokens in the vectors")
	}
	for _, v := range vectors.Tokens {
		hs, ok := cfg.Host(v.Host)
		if !ok {
			continue
		}
		verifier, err := sasl.NewVerifier(v.Host, stores[v.Host], hs.AuthToken, nil)
		if err != nil {
			t.Fatal(err)
		}
		node, err := verifier.Verify(context.Background(), []byte("\x00"+v.Node+"\x00"+v.Token), time.Unix(v.UnixTime, 0))
		if err != nil || node != v.Node {
			t.Errorf("%s@%s: Verify = %q, %v", v.Node, v.Host, node, err)
		}
	}
}
