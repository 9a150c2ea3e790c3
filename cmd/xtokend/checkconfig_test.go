package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const checkTwoHosts = `
[general]
hosts = ["localhost", "first.com"]
[modules.mod_keystore]
ram_key_size = 48
[[host_config]]
host = "first.com"
  [host_config.modules.mod_keystore]
  keys = [
    { name = "access_secret", type = "file", path = "priv/first_access_secret" },
    { name = "otp_seed", type = "file", path = "priv/first_otp_seed", encoding = "base32" },
    { name = "provision_psk", type = "env", var = "XTOKEND_TEST_PSK", encoding = "hex" },
  ]
`

// Values of the fixture's keys: none may appear in check-config's output.
const (
	testSecret = "s3cr3t-access-JYXEX4IQOEYFYQ2S3MC5P4ZT4SDHYEA7"
	testSeed   = "XVGR73KMZH2M4XMY"
	testPSK    = "70736b2d76616c7565" // "psk-value"
)

func TestCheckConfigTwoHosts(t *testing.T) {
	dir := configFolderWith(t, map[string]string{
		"config.toml":              checkTwoHosts,
		"priv/first_access_secret": testSecret + "\n",
		"priv/first_otp_seed":      testSeed + "\n",
	})
	t.Setenv("XTOKEND_TEST_PSK", testPSK)
	code, stdout, stderr := runXtokendCmd(t, "check-config", "-config", filepath.Join(dir, "config.toml"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		filepath.Join(dir, "config.toml") + ": ok",
		"host localhost", "host first.com",
		"access_secret  ram  48 bytes",
		"access_secret  file  " + strconv.Itoa(len(testSecret)) + " bytes  raw",
		"otp_seed       file  10 bytes  base32  file " + filepath.Join(dir, "priv/first_otp_seed"),
		"provision_psk  env   9 bytes   hex     env XTOKEND_TEST_PSK",
		"nonce_digits 32",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, secret := range []string{testSecret, testSeed, testPSK, "psk-value", "JYXEX4"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("a key value is in the output: %q\n%s\n%s", secret, stdout, stderr)
		}
	}
	if !strings.Contains(stderr, "self-signed") {
		t.Errorf("no warning for the self-signed certificate: %s", stderr)
	}
}

func TestCheckConfigDefault(t *testing.T) {
	t.Chdir(t.TempDir())
	code, stdout, stderr := runXtokendCmd(t, "check-config")
	if code != exitOK || !strings.Contains(stdout, "built-in default configuration") ||
		!strings.Contains(stdout, "host localhost") || !strings.Contains(stdout, "otp_seed       ram  2048 bytes") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestCheckConfigFindsLocalFile(t *testing.T) {
	dir := configFolderWith(t, map[string]string{"config.toml": "[general]\nhosts = [\"here.example\"]\n"})
	t.Chdir(dir)
	code, stdout, stderr := runXtokendCmd(t, "check-config")
	if code != exitOK || !strings.Contains(stdout, "host here.example") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestCheckConfigLooseKeyFile(t *testing.T) {
	dir := configFolderWith(t, map[string]string{
		"config.toml": "[general]\nhosts = [\"a.example\"]\n[modules.mod_keystore]\nkeys = [{ name = \"access_secret\", type = \"file\", path = \"k\" }, { name = \"otp_seed\", type = \"ram\" }]\n",
		"k":           testSecret,
	})
	if err := os.Chmod(filepath.Join(dir, "k"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runXtokendCmd(t, "check-config", "-config", filepath.Join(dir, "config.toml"))
	if code != exitOK || !strings.Contains(stderr, `key "access_secret"`) || !strings.Contains(stderr, "readable by group or others") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, testSecret) {
		t.Error("key value printed")
	}
}

// Bad configurations exit 2 with one line naming the culprit.
func TestCheckConfigRefusals(t *testing.T) {
	keys := map[string]string{"priv/a": testSecret + "\n", "priv/empty": "\n"}
	tests := []struct {
		name string
		toml string
		want string
	}{
		{"typo", "[general]\nhosts = [\"a.example\"]\nlisten_addr = \"x\"\n", `unknown option "general.listen_addr"`},
		{"no hosts", "[general]\nhosts = []\n", "general.hosts is empty"},
		{"unknown host", "[general]\nhosts = [\"a.example\"]\n[[host_config]]\nhost = \"b.example\"\n", `host "b.example": host_config[0] is for a host not in general.hosts`},
		{"missing file", "[general]\nhosts = [\"a.example\"]\n[modules.mod_keystore]\nkeys = [{ name = \"access_secret\", type = \"file\", path = \"priv/nope\" }, { name = \"otp_seed\", type = \"ram\" }]\n",
			`keystore: host "a.example": mod_keystore: key "access_secret": file "`},
		{"empty key", "[general]\nhosts = [\"a.example\"]\n[modules.mod_keystore]\nkeys = [{ name = \"access_secret\", type = \"file\", path = \"priv/empty\" }, { name = \"otp_seed\", type = \"ram\" }]\n",
			`/priv/empty": empty key`},
		{"bad decode", "[general]\nhosts = [\"a.example\"]\n[modules.mod_keystore]\nkeys = [{ name = \"access_secret\", type = \"file\", path = \"priv/a\", encoding = \"hex\" }, { name = \"otp_seed\", type = \"ram\" }]\n",
			`/priv/a": value does not decode as hex`},
		{"missing needed key", "[general]\nhosts = [\"a.example\"]\n[modules.mod_keystore]\nkeys = [{ name = \"otp_seed\", type = \"ram\" }]\n",
			`host "a.example": mod_auth_token: secret_key = "access_secret": no such key`},
		{"shared key", "[general]\nhosts = [\"a.example\", \"b.example\"]\n[modules.mod_keystore]\nkeys = [{ name = \"access_secret\", type = \"file\", path = \"priv/a\" }, { name = \"otp_seed\", type = \"ram\" }]\n",
			`hosts "a.example" and "b.example": mod_keystore: key "access_secret"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"config.toml": tc.toml}
			for k, v := range keys {
				files[k] = v
			}
			dir := configFolderWith(t, files)
			code, stdout, stderr := runXtokendCmd(t, "check-config", "-config", filepath.Join(dir, "config.toml"))
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, exitUsage, stdout, stderr)
			}
			if stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "xtokend: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("stdout %q\nstderr %q\nwant one line containing %s", stdout, stderr, tc.want)
			}
			if strings.Contains(stderr, testSecret) {
				t.Error("key value in the error")
			}
		})
	}
}

func TestCheckConfigUsage(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}, {"-config"}} {
		if code, _, stderr := runXtokendCmd(t, append([]string{"check-config"}, args...)...); code != exitUsage || stderr == "" {
			t.Errorf("check-config %q: exit %d, stderr %q", args, code, stderr)
		}
	}
	if code, _, stderr := runXtokendCmd(t, "check-config", "-config", filepath.Join(t.TempDir(), "nope.toml")); code != exitUsage || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing config: exit %d, %s", code, stderr)
	}
}
