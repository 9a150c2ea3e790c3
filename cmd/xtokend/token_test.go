package main

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/sasl"
)

// tokenConfig writes a config with one host of file keys (first.com), one
// of env keys (env.org) and one of RAM keys (localhost), and returns its path.
func tokenConfig(t *testing.T) (path string, keys map[string]sasl.KeyMap) {
	t.Helper()
	dir := t.TempDir()
	seed := []byte("0123456789abcdefghij")
	secret := []byte("first-access-secret")
	if err := os.Mkdir(filepath.Join(dir, "priv"), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, "priv", name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first_access_secret", secret)
	write("first_otp_seed", []byte(base32.StdEncoding.EncodeToString(seed)+"\n"))
	t.Setenv("XT_TEST_ENV_SECRET", "env-access-secret")
	t.Setenv("XT_TEST_ENV_SEED", "656e762d6f74702d73656564")
	config := `
[general]
hosts = ["localhost", "first.com", "env.org"]
admin_socket = ""

[[host_config]]
host = "first.com"
  [host_config.modules.mod_keystore]
  keys = [
    { name = "access_secret", type = "file", path = "priv/first_access_secret" },
    { name = "otp_seed", type = "file", path = "priv/first_otp_seed", encoding = "base32" },
  ]

[[host_config]]
host = "env.org"
  [host_config.modules.mod_keystore]
  keys = [
    { name = "access_secret", type = "env", var = "XT_TEST_ENV_SECRET" },
    { name = "otp_seed", type = "env", var = "XT_TEST_ENV_SEED", encoding = "hex" },
  ]
`
	path = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, map[string]sasl.KeyMap{
		"first.com": {"access_secret": secret, "otp_seed": seed},
		"env.org":   {"access_secret": []byte("env-access-secret"), "otp_seed": []byte("env-otp-seed")},
	}
}

func TestTokenCommand(t *testing.T) {
	path, keys := tokenConfig(t)
	now := time.Unix(1_800_000_010, 0)
	clock := func() time.Time { return now }

	tests := []struct {
		name   string
		args   []string
		code   int
		node   string // the token verifies for node@host
		host   string
		json   bool
		stderr string
	}{
		{"file keys", []string{"-config", path, "alice@first.com"}, exitOK, "alice", "first.com", false, ""},
		{"env keys, flag after the JID", []string{"-config", path, "bob@env.org", "-json"}, exitOK, "bob", "env.org", true, ""},
		{"normalized", []string{"-json", "-config", path, "Alice@First.COM"}, exitOK, "alice", "first.com", true, ""},
		{"RAM keys", []string{"-config", path, "alice@localhost"}, exitFailed, "", "", false, `type "ram"`},
		{"unknown host", []string{"-config", path, "alice@second.com"}, exitUsage, "", "", false, "not a host"},
		{"bad JID", []string{"-config", path, "a@b@c"}, exitUsage, "", "", false, "not a valid JID"},
		{"domain only", []string{"-config", path, "first.com"}, exitUsage, "", "", false, "not a bare JID"},
		{"full JID", []string{"-config", path, "alice@first.com/phone"}, exitUsage, "", "", false, "not a bare JID"},
		{"no JID", []string{"-config", path}, exitUsage, "", "", false, "usage"},
		{"two JIDs", []string{"-config", path, "a@first.com", "b@first.com"}, exitUsage, "", "", false, "usage"},
		{"unknown flag", []string{"-x", "a@first.com"}, exitUsage, "", "", false, "not defined"},
		{"missing config", []string{"-config", filepath.Join(t.TempDir(), "none.toml"), "a@first.com"}, exitUsage, "", "", false, "none.toml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := mintToken(tc.args, &stdout, &stderr, clock)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
			if tc.code != exitOK {
				if stdout.Len() != 0 {
					t.Errorf("stdout %q on failure", stdout.String())
				}
				return
			}
			token := strings.TrimSuffix(stdout.String(), "\n")
			if tc.json {
				var out tokenOutput
				dec := json.NewDecoder(&stdout)
				dec.DisallowUnknownFields()
				if err := dec.Decode(&out); err != nil {
					t.Fatal(err)
				}
				if out.JID != tc.node+"@"+tc.host || out.ExpiresAt != "2027-01-15T08:01:00Z" {
					t.Errorf("json %+v", out)
				}
				token = out.Token
			}
			v, err := sasl.NewVerifier(tc.host, keys[tc.host], sasl.DefaultOptions(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if node, err := v.Verify(context.Background(), []byte("\x00"+tc.node+"\x00"+token), now); err != nil || node != tc.node {
				t.Fatalf("Verify(%q) = %q, %v", token, node, err)
			}
		})
	}
}
