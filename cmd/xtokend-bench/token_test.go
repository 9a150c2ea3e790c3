package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// vectors is testdata/xtoken-vectors.json, a copy of the project's shared vectors made by
// an independent implementation.
type vectors struct {
	Seed   string `json:"otp_seed_base32"`
	Secret string `json:"access_secret_raw"`
	Digits int    `json:"otp_digits"`
	Period int    `json:"otp_period"`
	Tokens []struct {
		Node, Host, Nonce, Token string
		UnixTime                 int64 `json:"unix_time"`
	} `json:"tokens"`
	RFC6238 struct {
		Key     string `json:"key_ascii"`
		Vectors []struct {
			UnixTime int64 `json:"unix_time"`
			OTP      string
		}
	} `json:"rfc6238_sha1_8digit"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/xtoken-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) == 0 || len(v.RFC6238.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return v
}

// writeKeys writes the host's two key files as a Prosody host would have them.
func writeKeys(t *testing.T, secret, seed string) (string, string) {
	dir := t.TempDir()
	sp, dp := filepath.Join(dir, "access_secret"), filepath.Join(dir, "otp_seed")
	if err := os.WriteFile(sp, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dp, []byte(seed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return sp, dp
}

func TestTOTPVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.RFC6238.Vectors {
		if got := string(totp([]byte(v.RFC6238.Key), tc.UnixTime/30, 8)); got != tc.OTP {
			t.Errorf("TOTP at %d: got %s, want %s", tc.UnixTime, got, tc.OTP)
		}
	}
}

func TestMintVectors(t *testing.T) {
	v := loadVectors(t)
	sp, dp := writeKeys(t, v.Secret, v.Seed)
	keys, err := loadTokenKeys(sp, dp, v.Digits, v.Period, 32)
	if err != nil {
		t.Fatal(err)
	}
	m := newMinter(keys)
	for _, tc := range v.Tokens {
		got, err := m.token(tc.Node, tc.Host, time.Unix(tc.UnixTime, 0), []byte(tc.Nonce))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.Token {
			t.Errorf("%s@%s at %d:\n got %s\nwant %s", tc.Node, tc.Host, tc.UnixTime, got, tc.Token)
		}
	}
}

func TestMintFreshNonces(t *testing.T) {
	v := loadVectors(t)
	sp, dp := writeKeys(t, v.Secret, v.Seed)
	keys, err := loadTokenKeys(sp, dp, 8, 30, 32)
	if err != nil {
		t.Fatal(err)
	}
	m := newMinter(keys)
	shape := regexp.MustCompile(`^[0-9]{40} [A-Za-z0-9+/]{43}=$`)
	seen := map[string]bool{}
	for range 100 {
		tok, err := m.token("alice", "localhost", time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !shape.Match(tok) {
			t.Fatalf("token %q does not have the v1 shape", tok)
		}
		if seen[string(tok[:40])] {
			t.Fatalf("OTP||NONCE repeated: %s", tok[:40])
		}
		seen[string(tok[:40])] = true
	}
}

func TestLoadTokenKeysErrors(t *testing.T) {
	sp, dp := writeKeys(t, "secret", "not base32!")
	if _, err := loadTokenKeys(sp, dp, 8, 30, 32); err == nil {
		t.Error("bad base32 seed: got nil error")
	}
	if _, err := loadTokenKeys(sp, filepath.Join(t.TempDir(), "missing"), 8, 30, 32); err == nil {
		t.Error("missing seed file: got nil error")
	}
	sp, dp = writeKeys(t, "  ", "XVGR73KMZH2M4XMY")
	if _, err := loadTokenKeys(sp, dp, 8, 30, 32); err == nil {
		t.Error("empty secret: got nil error")
	}
}

func BenchmarkMint(b *testing.B) {
	sp, dp := "", ""
	{
		dir := b.TempDir()
		sp, dp = filepath.Join(dir, "s"), filepath.Join(dir, "d")
		os.WriteFile(sp, []byte("JYXEX4IQOEYFYQ2S3MC5P4ZT4SDHYEA7"), 0o600)
		os.WriteFile(dp, []byte("XVGR73KMZH2M4XMY"), 0o600)
	}
	keys, err := loadTokenKeys(sp, dp, 8, 30, 32)
	if err != nil {
		b.Fatal(err)
	}
	m := newMinter(keys)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.token("alice", "localhost", now, nil); err != nil {
			b.Fatal(err)
		}
	}
}
