package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/keystore"
)

// fixture is a config folder with key files, as an operator would lay it out.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"priv/first_access_secret":  "JYXEX4IQOEYFYQ2S3MC5P4ZT4SDHYEA7\n",
		"priv/first_otp_seed":       "XVGR73KMZH2M4XMY\n",
		"priv/second_access_secret": "a different secret\n",
		"priv/second_otp_seed":      "MZXW6YTBOI======\n",
		"priv/empty":                "\n",
		"priv/not_hex":              "this is not hex\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writeConfig(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func fakeEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const twoHosts = `
[general]
hosts = ["localhost", "first.com"]

[modules.mod_keystore]
ram_key_size = 64
keys = [
  { name = "access_secret", type = "ram" },
  { name = "otp_seed",      type = "ram" },
]

[[host_config]]
host = "first.com"
  [host_config.modules.mod_keystore]
  keys = [
    { name = "access_secret", type = "file", path = "priv/first_access_secret" },
    { name = "otp_seed", type = "file", path = "priv/first_otp_seed", encoding = "base32" },
    { name = "provision_psk", type = "env", var = "FIRST_PROVISION_PSK" },
  ]
`

func TestLoadTwoHosts(t *testing.T) {
	dir := fixture(t)
	c, err := config.Load(writeConfig(t, dir, twoHosts))
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir != dir || c.Path != filepath.Join(dir, "config.toml") {
		t.Errorf("Dir, Path = %q, %q", c.Dir, c.Path)
	}
	// Defaults fill what the file leaves out.
	g := c.General
	if g.Listen != "127.0.0.1:5222" || g.AdminSocket != "xtokend.sock" || g.LogLevel != "info" ||
		g.MaxStanzaSize != 65536 || g.AllowSharedKeys || !c.TLS.RequireStartTLS {
		t.Errorf("defaults: %+v %+v", g, c.TLS)
	}
	if c.Limits.ConnectionBurst != 100 || len(c.Limits.Exempt) != 2 {
		t.Errorf("limits defaults: %+v", c.Limits)
	}
	if got := c.AdminSocketPath(); got != filepath.Join(dir, "xtokend.sock") {
		t.Errorf("AdminSocketPath = %q", got)
	}
	local, ok := c.Host("localhost")
	if !ok || local.Keystore.RAMKeySize != 64 || len(local.Keystore.Keys) != 2 || local.AuthToken.OTPDigits != 8 {
		t.Errorf("localhost: %+v", local)
	}
	first, ok := c.Host("first.com")
	// The host's section replaces the global one: ram_key_size is the
	// default again, not the global 64.
	if !ok || first.Keystore.RAMKeySize != 2048 || len(first.Keystore.Keys) != 3 || first.Keystore.Keys[1].Encoding != "base32" {
		t.Errorf("first.com: %+v", first)
	}
	if _, ok := c.Host("second.com"); ok {
		t.Error("Host(second.com) = ok for a host not served")
	}

	c.LookupEnv = fakeEnv(map[string]string{"FIRST_PROVISION_PSK": "psk"})
	stores, warns, err := c.OpenKeystoresWithWarnings()
	if err != nil || len(warns) != 0 {
		t.Fatalf("OpenKeystores: %v %v", warns, err)
	}
	secret, _ := stores["first.com"].Key("access_secret")
	seed, _ := stores["first.com"].Key("otp_seed")
	psk, _ := stores["first.com"].Key("provision_psk")
	if string(secret) != "JYXEX4IQOEYFYQ2S3MC5P4ZT4SDHYEA7" || len(seed) != 10 || string(psk) != "psk" {
		t.Errorf("first.com keys: %q, %d bytes, %q", secret, len(seed), psk)
	}
	if k, _ := stores["localhost"].Key("access_secret"); len(k) != 64 {
		t.Errorf("localhost access_secret: %d bytes", len(k))
	}
}

func TestHostSectionReplacesGlobal(t *testing.T) {
	dir := fixture(t)
	c, err := config.Load(writeConfig(t, dir, `
[general]
hosts = ["a.example", "b.example"]
[modules.mod_auth_token]
otp_digits = 6
nonce_digits = 16
replay_protection = false
[[host_config]]
host = "b.example"
  [host_config.modules.mod_auth_token]
  otp_period = 60
  [host_config.modules.mod_keystore]
  ram_key_size = 32
`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Host("a.example")
	b, _ := c.Host("b.example")
	if a.AuthToken.OTPDigits != 6 || a.AuthToken.NonceDigits != 16 || a.AuthToken.ReplayProtection {
		t.Errorf("a.example (global section): %+v", a.AuthToken)
	}
	// b.example's section starts from the defaults, not from the global section.
	if b.AuthToken.OTPDigits != 8 || b.AuthToken.NonceDigits != 32 || !b.AuthToken.ReplayProtection || b.AuthToken.OTPPeriod != 60 {
		t.Errorf("b.example (own section): %+v", b.AuthToken)
	}
	// A section without keys gets the default keys.
	if b.Keystore.RAMKeySize != 32 || len(b.Keystore.Keys) != 2 || b.Keystore.Keys[0].Name != "access_secret" {
		t.Errorf("b.example keystore: %+v", b.Keystore)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if c.Dir != wd || c.Path != "" || len(c.General.Hosts) != 1 || c.General.Hosts[0] != "localhost" {
		t.Errorf("DefaultConfig: %+v", c)
	}
	stores, err := c.OpenKeystores()
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range stores["localhost"].List() {
		if info.Type != "ram" || info.Size != 2048 {
			t.Errorf("default key %+v", info)
		}
	}
	if len(c.Warnings()) != 1 { // the self-signed certificate
		t.Errorf("Warnings = %q", c.Warnings())
	}
}

func TestFindConfig(t *testing.T) {
	dir := fixture(t)
	t.Chdir(dir)
	c, err := config.Find("")
	if err != nil || c.Path != "" {
		t.Fatalf("no ./config.toml: %+v, %v", c, err)
	}
	writeConfig(t, dir, `[general]
hosts = ["found.example"]`)
	c, err = config.Find("")
	if err != nil || c.Path != filepath.Join(dir, "config.toml") || c.General.Hosts[0] != "found.example" {
		t.Fatalf("./config.toml: %+v, %v", c, err)
	}
	if _, err := config.Find("nope.toml"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("FindConfig(nope.toml): %v", err)
	}
}

const validTLSCert = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIQIRi6zePL6mKjOipn+dNuaTAKBggqhkjOPQQDAjASMRAw
DgYDVQQKEwdBY21lIENvMB4XDTE3MTAyMDE5NDMwNloXDTE4MTAyMDE5NDMwNlow
EjEQMA4GA1UEChMHQWNtZSBDbzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD0d
7VNhbWvZLWPuj/RtHFjvtJBEwOkhbN/BnnE8rnZR8+sbwnc/KhCk3FhnpHZnQz7B
5aETbbIgmuvewdjvSBSjYzBhMA4GA1UdDwEB/wQEAwICpDATBgNVHSUEDDAKBggr
BgEFBQcDATAPBgNVHRMBAf8EBTADAQH/MCkGA1UdEQQiMCCCDmxvY2FsaG9zdDo1
NDUzgg4xMjcuMC4wLjE6NTQ1MzAKBggqhkjOPQQDAgNIADBFAiEA2zpJEPQyz6/l
Wf86aX6PepsntZv2GYlA5UpabfT2EZICICpJ5h/iI+i341gBmLiAFQOyTDT+/wQc
6MF9+Yw1Yy0t
-----END CERTIFICATE-----
`

// TestRefusals is SPEC.md section 2's list of start-up refusals, and more:
// each is one line naming the file, and the host, module, key and key file
// where one is involved.
func TestRefusals(t *testing.T) {
	const head = "[general]\nhosts = [\"localhost\", \"first.com\"]\n"
	first := func(keys string) string {
		return head + "[[host_config]]\nhost = \"first.com\"\n[host_config.modules.mod_keystore]\nkeys = [" + keys + "]\n"
	}
	const ok2 = `{ name = "access_secret", type = "ram" }, { name = "otp_seed", type = "ram" }`
	tests := []struct {
		name string
		toml string
		env  map[string]string
		want []string // substrings of the one-line error
	}{
		// The file itself.
		{"toml syntax", "[general\nhosts = []", nil, []string{"toml: line 2", "to end table name"}},
		{"type mismatch", "[general]\nhosts = \"localhost\"\n", nil, []string{`general.hosts`, "incompatible types"}},
		{"unknown option", head + "listn = \"127.0.0.1:5222\"\n", nil, []string{`unknown option "general.listn" (line 3; did you mean "listen"?)`}},
		{"unknown section", head + "[genral]\nx = 1\n", nil, []string{`unknown option "genral`}},
		{"unknown tls option", head + "[tls]\nrequire_startls = false\n", nil, []string{`unknown option "tls.require_startls" (line 4; did you mean "require_starttls"?)`}},
		{"unknown keystore option", head + "[modules.mod_keystore]\nram_key_sise = 5\n", nil, []string{`unknown option "modules.mod_keystore.ram_key_sise"`}},
		{"unknown key spec field", head + "[modules.mod_keystore]\nkeys = [{ name = \"access_secret\", type = \"ram\", pth = \"x\" }]\n", nil, []string{`unknown option "modules.mod_keystore.keys.pth" (line 4; did you mean "path"?)`}},
		{"unknown auth option", head + "[modules.mod_auth_token]\notp_digit = 6\n", nil, []string{`unknown option "modules.mod_auth_token.otp_digit"`}},
		{"unknown host_config option", first(ok2) + "secret = 1\n", nil, []string{`unknown option "host_config.modules.mod_keystore.secret" (line 7; known here: ram_key_size, keys)`}},
		{"several unknown options", head + "a = 1\nb = 2\n", nil, []string{`unknown option "general.a" (line 3; known here: hosts, listen,`, `(and 1 more)`}},
		{"unknown module", head + "[modules.mod_keystor]\nkeys = []\n", nil, []string{`unknown module "mod_keystor"`}},
		{"unknown host module", head + "[[host_config]]\nhost = \"first.com\"\n[host_config.modules.mod_auth]\nx = 1\n", nil, []string{`host_config[0] (host "first.com")`, `unknown module "mod_auth"`}},

		// general and tls.
		{"no hosts section", "[tls]\nrequire_starttls = true\n", nil, []string{"general.hosts is empty"}},
		{"empty hosts", "[general]\nhosts = []\n", nil, []string{"general.hosts is empty"}},
		{"host twice", "[general]\nhosts = [\"a.com\", \"a.com\"]\n", nil, []string{`"a.com" is listed twice`}},
		{"host not canonical", "[general]\nhosts = [\"First.COM\"]\n", nil, []string{`"First.COM": not in canonical form; write "first.com"`}},
		{"host with user", "[general]\nhosts = [\"u@first.com\"]\n", nil, []string{`"u@first.com"`, "without user@"}},
		{"host empty string", "[general]\nhosts = [\"\"]\n", nil, []string{"empty host name"}},
		{"bad listen", head + "listen = \"5222\"\n", nil, []string{`general.listen = "5222": not host:port`}},
		{"bad port", head + "listen = \"127.0.0.1:99999\"\n", nil, []string{`general.listen`, `bad port "99999"`}},
		{"bad metrics_listen", head + "metrics_listen = \"localhost\"\n", nil, []string{`general.metrics_listen`}},
		{"bad log level", head + "log_level = \"verbose\"\n", nil, []string{`general.log_level = "verbose"`}},
		{"tiny max_stanza_size", head + "max_stanza_size = 100\n", nil, []string{`general.max_stanza_size = 100`, "RFC 6120"}},
		{"long admin socket", head + "admin_socket = \"/" + strings.Repeat("s", 120) + "\"\n", nil, []string{"general.admin_socket", "unix socket path"}},
		{"tls cert without key", head + "[tls]\ncert = \"c.pem\"\n", nil, []string{": tls: cert is set but key is not"}},
		{"tls key without cert", head + "[tls]\nkey = \"k.pem\"\n", nil, []string{": tls: key is set but cert is not"}},
		{"tls missing cert", head + "[tls]\ncert = \"nope.pem\"\nkey = \"nope.key\"\n", nil, []string{`tls: cert "`, `nope.pem": open: no such file or directory`}},
		{"negative limit", head + "[limits]\nconnections_per_second = -1.0\n", nil, []string{"limits.connections_per_second = -1: must be 0"}},
		{"bad exempt", head + "[limits]\nexempt = [\"10.0.0.0/33\"]\n", nil, []string{`limits.exempt: "10.0.0.0/33"`}},
		{"unknown limits option", head + "[limits]\nconnection_brust = 5\n", nil, []string{`unknown option "limits.connection_brust" (line 4; did you mean "connection_burst"?)`}},
		{"tls bad pair", head + "[tls]\ncert = \"cert.pem\"\nkey = \"cert.pem\"\n", nil, []string{`tls: cert "`, `and key "`}},

		// host_config.
		{"host_config for unknown host", head + "[[host_config]]\nhost = \"second.com\"\n", nil, []string{`host "second.com": host_config[0] is for a host not in general.hosts ("localhost", "first.com")`}},
		{"host_config without host", head + "[[host_config]]\n[host_config.modules.mod_keystore]\nram_key_size = 1\n", nil, []string{"host_config[0] has no host"}},
		{"host_config twice", head + "[[host_config]]\nhost = \"first.com\"\n[[host_config]]\nhost = \"first.com\"\n", nil, []string{`host "first.com": host_config[0] and host_config[1] are for the same host`}},
		{"host tls cert without key", first(ok2) + "[host_config.tls]\ncert = \"first_cert.pem\"\n", nil, []string{`host "first.com": tls: cert is set but key is not`}},
		{"host tls empty", first(ok2) + "[host_config.tls]\n", nil, []string{`host "first.com": tls: cert and key are empty`}},
		{"host tls missing cert", first(ok2) + "[host_config.tls]\ncert = \"nope.pem\"\nkey = \"first_key.pem\"\n", nil, []string{`host "first.com": tls: cert "`, `nope.pem": open: no such file or directory`}},
		{"host tls mismatched pair", first(ok2) + "[host_config.tls]\ncert = \"first_cert.pem\"\nkey = \"other_key.pem\"\n", nil, []string{`host "first.com": tls: cert "`, `first_cert.pem" and key "`}},
		{"host tls for another name", first(ok2) + "[host_config.tls]\ncert = \"other_cert.pem\"\nkey = \"other_key.pem\"\n", nil, []string{`host "first.com": tls: cert "`, `other_cert.pem" does not name the host (its names: "other.com")`}},
		{"host tls unknown option", first(ok2) + "[host_config.tls]\nrequire_starttls = false\n", nil, []string{`unknown option "host_config.tls.require_starttls" (line 8; known here: cert, key)`}},

		// mod_keystore.
		{"key name twice", first(ok2 + `, { name = "otp_seed", type = "env", var = "X" }`), nil, []string{`host "first.com": mod_keystore: key "otp_seed": name used twice`}},
		{"key name twice global", head + "[modules.mod_keystore]\nkeys = [" + ok2 + ", " + ok2 + "]\n", nil, []string{`: mod_keystore: key "access_secret": name used twice`}},
		{"unknown type", first(`{ name = "access_secret", type = "vault" }, { name = "otp_seed", type = "ram" }`), nil, []string{`host "first.com": mod_keystore: key "access_secret": unknown type "vault"`}},
		{"unknown encoding", first(`{ name = "access_secret", type = "file", path = "priv/first_access_secret", encoding = "base85" }, { name = "otp_seed", type = "ram" }`), nil, []string{`host "first.com": mod_keystore: key "access_secret": unknown encoding "base85"`}},
		{"negative ram_key_size", head + "[modules.mod_keystore]\nram_key_size = -1\n", nil, []string{"mod_keystore: ram_key_size -1 is negative"}},
		{"negative ram_key_size in host", first(ok2) + "ram_key_size = -5\n", nil, []string{`host "first.com": mod_keystore: ram_key_size -5 is negative`}},
		{"missing file", first(`{ name = "access_secret", type = "ram" }, { name = "otp_seed", type = "file", path = "priv/x" }`), nil, []string{`keystore: host "first.com": mod_keystore: key "otp_seed": file "`, `/priv/x": open: no such file or directory`}},
		{"unreadable file (a folder)", first(`{ name = "access_secret", type = "ram" }, { name = "otp_seed", type = "file", path = "priv" }`), nil, []string{`host "first.com": mod_keystore: key "otp_seed": file "`, "is a directory"}},
		{"empty key file", first(`{ name = "access_secret", type = "file", path = "priv/empty" }, { name = "otp_seed", type = "ram" }`), nil, []string{`host "first.com": mod_keystore: key "access_secret": file "`, `/priv/empty": empty key`}},
		{"empty env key", first(ok2 + `, { name = "psk", type = "env", var = "PSK" }`), map[string]string{"PSK": " "}, []string{`host "first.com": mod_keystore: key "psk": env "PSK": empty key`}},
		{"env key not set", first(ok2 + `, { name = "psk", type = "env", var = "NOPE" }`), nil, []string{`host "first.com": mod_keystore: key "psk": env "NOPE": not set`}},
		{"bad decode", first(`{ name = "access_secret", type = "file", path = "priv/not_hex", encoding = "hex" }, { name = "otp_seed", type = "ram" }`), nil, []string{`host "first.com": mod_keystore: key "access_secret": file "`, `/priv/not_hex": value does not decode as hex`}},
		{"bad decode env", first(ok2 + `, { name = "psk", type = "env", var = "PSK", encoding = "base64" }`), map[string]string{"PSK": "!!"}, []string{`env "PSK": value does not decode as base64`}},

		// mod_auth_token.
		{"missing secret_key", first(`{ name = "otp_seed", type = "ram" }`), nil, []string{`host "first.com": mod_auth_token: secret_key = "access_secret": no such key in the host's mod_keystore`}},
		{"missing seed_key", first(`{ name = "access_secret", type = "ram" }`), nil, []string{`host "first.com": mod_auth_token: seed_key = "otp_seed": no such key`}},
		{"no keys at all", head + "[modules.mod_keystore]\nkeys = []\n", nil, []string{`host "localhost": mod_auth_token: secret_key = "access_secret": no such key`}},
		{"renamed key missing", head + "[modules.mod_auth_token]\nsecret_key = \"hmac\"\n", nil, []string{`host "localhost": mod_auth_token: secret_key = "hmac": no such key`}},
		{"otp_digits", head + "[modules.mod_auth_token]\notp_digits = 5\n", nil, []string{"mod_auth_token: otp_digits = 5"}},
		{"otp_period", head + "[modules.mod_auth_token]\notp_period = 0\n", nil, []string{"mod_auth_token: otp_period = 0"}},
		{"otp_skew", head + "[modules.mod_auth_token]\notp_skew = -1\n", nil, []string{"mod_auth_token: otp_skew = -1"}},
		{"nonce_digits", first(ok2) + "[host_config.modules.mod_auth_token]\nnonce_digits = 4\n", nil, []string{`host "first.com": mod_auth_token: nonce_digits = 4`}},
		{"empty seed_key", head + "[modules.mod_auth_token]\nseed_key = \"\"\n", nil, []string{"mod_auth_token: seed_key is empty"}},

		// Across hosts.
		{"shared key file", head + `[modules.mod_keystore]
keys = [{ name = "access_secret", type = "file", path = "priv/first_access_secret" }, { name = "otp_seed", type = "ram" }]
`, nil, []string{`hosts "localhost" and "first.com": mod_keystore: key "access_secret": the same bytes in both keystores (file "`, "allow_shared_keys"}},
		{"shared key bytes in two files", "[general]\nhosts = [\"a.com\", \"b.com\"]\n" + `[modules.mod_keystore]
keys = [{ name = "access_secret", type = "ram" }, { name = "otp_seed", type = "file", path = "priv/first_otp_seed", encoding = "base32" }]
[[host_config]]
host = "b.com"
[host_config.modules.mod_keystore]
keys = [{ name = "access_secret", type = "ram" }, { name = "otp_seed", type = "env", var = "SEED", encoding = "base32" }]
`, map[string]string{"SEED": "xvgr73kmzh2m4xmy"}, []string{`hosts "a.com" and "b.com": mod_keystore: key "otp_seed"`, `and env "SEED"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t)
			if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte(validTLSCert), 0o600); err != nil {
				t.Fatal(err)
			}
			writeHostCert(t, dir, "first", "first.com")
			writeHostCert(t, dir, "other", "other.com")
			path := writeConfig(t, dir, tc.toml)
			c, err := config.Load(path)
			if err == nil {
				c.LookupEnv = fakeEnv(tc.env)
				_, err = c.OpenKeystores()
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.toml)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `config: "`+path+`": `) {
				t.Errorf("error does not start by naming the file:\n%s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, w)
				}
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, secret := range []string{"JYXEX4IQOEYFYQ2S3MC5P4ZT4SDHYEA7", "XVGR73KMZH2M4XMY", "this is not hex", "xvgr73"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error holds a key's value: %s", msg)
				}
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("error is %T, want *config.Error", err)
			}
		})
	}
}

func TestAllowSharedKeys(t *testing.T) {
	dir := fixture(t)
	c, err := config.Load(writeConfig(t, dir, `
[general]
hosts = ["a.com", "b.com"]
allow_shared_keys = true
[modules.mod_keystore]
keys = [{ name = "access_secret", type = "file", path = "priv/first_access_secret" }, { name = "otp_seed", type = "ram" }]
`))
	if err != nil {
		t.Fatal(err)
	}
	stores, err := c.OpenKeystores()
	if err != nil {
		t.Fatal(err)
	}
	if !stores["a.com"].SameKey(stores["b.com"], "access_secret") {
		t.Error("the shared file did not give both hosts the same key")
	}
	found := false
	for _, w := range c.Warnings() {
		found = found || strings.Contains(w, "allow_shared_keys")
	}
	if !found {
		t.Errorf("no warning for allow_shared_keys: %q", c.Warnings())
	}
}

func TestLooseKeyFileWarns(t *testing.T) {
	dir := fixture(t)
	if err := os.Chmod(filepath.Join(dir, "priv/first_access_secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(writeConfig(t, dir, `
[general]
hosts = ["a.com"]
[modules.mod_keystore]
keys = [{ name = "access_secret", type = "file", path = "priv/first_access_secret" }, { name = "otp_seed", type = "ram" }]
`))
	if err != nil {
		t.Fatal(err)
	}
	_, warns, err := c.OpenKeystoresWithWarnings()
	if err != nil || len(warns) != 1 || warns[0].Key != "access_secret" {
		t.Fatalf("warnings %v, %v", warns, err)
	}
}

func TestReloadThenCheck(t *testing.T) {
	dir := fixture(t)
	c, err := config.Load(writeConfig(t, dir, twoHosts))
	if err != nil {
		t.Fatal(err)
	}
	c.LookupEnv = fakeEnv(map[string]string{"FIRST_PROVISION_PSK": "psk"})
	stores, err := c.OpenKeystores()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckKeystores(stores); err != nil {
		t.Fatal(err)
	}
	delete(stores, "first.com")
	if err := c.CheckKeystores(stores); err == nil || !strings.Contains(err.Error(), `host "first.com": no keystore`) {
		t.Errorf("CheckKeystores without first.com: %v", err)
	}
	static, _ := keystore.NewStatic("first.com", map[string][]byte{"access_secret": []byte("x")})
	stores["first.com"] = static
	if err := c.CheckKeystores(stores); err == nil || !strings.Contains(err.Error(), `seed_key = "otp_seed"`) {
		t.Errorf("CheckKeystores with a store lacking otp_seed: %v", err)
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := config.Load(filepath.Join(dir, "nope.toml")); err == nil ||
		err.Error() != `config: "`+filepath.Join(dir, "nope.toml")+`": open: no such file or directory` {
		t.Errorf("missing file: %v", err)
	}
	if _, err := config.Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a folder: %v", err)
	}
}

func TestSlogLevel(t *testing.T) {
	for level, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		if got := (config.General{LogLevel: level}).SlogLevel().String(); got != want {
			t.Errorf("%s: %s", level, got)
		}
	}
}

func TestLimitsSection(t *testing.T) {
	c, err := config.Parse([]byte(`
[general]
hosts = ["a.example"]
[limits]
connections_per_second = 0.0
exempt = ["10.0.0.0/8"]
`), filepath.Join(t.TempDir(), "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.ConnectionsPerSecond != 0 || l.ConnectionBurst != 100 || l.FailedLoginsPerMinute != 5 || len(l.Exempt) != 1 || l.Exempt[0] != "10.0.0.0/8" {
		t.Errorf("limits: %+v", l)
	}
}

func TestParseConfigWithoutPath(t *testing.T) {
	c, err := config.Parse([]byte("[general]\nhosts = [\"a.example\"]\n"), "")
	wd, _ := os.Getwd()
	if err != nil || c.Path != "" || c.Dir != wd {
		t.Fatalf("ParseConfig(data, \"\") = %+v, %v", c, err)
	}
	_, err = config.Parse([]byte("[general]\nhosts = []\n"), "")
	if err == nil || !strings.HasPrefix(err.Error(), "config: built-in: ") {
		t.Errorf("error: %v", err)
	}
}

// writeHostCert writes NAME_cert.pem and NAME_key.pem, a self-signed pair
// for host, into dir.
func writeHostCert(t *testing.T, dir, name, host string) {
	t.Helper()
	c, err := testkit.SelfSigned(0, host)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFiles(filepath.Join(dir, name+"_cert.pem"), filepath.Join(dir, name+"_key.pem")); err != nil {
		t.Fatal(err)
	}
}
