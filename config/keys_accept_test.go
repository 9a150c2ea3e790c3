package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
)

// TestKeyAcceptParsing: the accept list of a key spec (key rotation) as the
// configuration file spells it, what it opens to, and every refusal as the
// one line naming host, module, key and file or variable.
func TestKeyAcceptParsing(t *testing.T) {
	const head = "[general]\nhosts = [\"first.com\"]\n[modules.mod_keystore]\nkeys = [\n"
	const seed = `{ name = "otp_seed", type = "file", path = "priv/first_otp_seed", encoding = "base32" }`
	cfg := func(secret string) string { return head + secret + ",\n" + seed + "\n]\n" }
	tests := []struct {
		name   string
		toml   string
		env    map[string]string
		accept []string // the accepted versions check-config lists (paths relative to the folder)
		want   string   // substring of the error; "" when it opens
	}{
		{"no accept", cfg(`{ name = "access_secret", type = "file", path = "priv/first_access_secret" }`), nil, nil, ""},
		{"empty accept", cfg(`{ name = "access_secret", type = "file", path = "priv/first_access_secret", accept = [] }`), nil, nil, ""},
		{"file accepts a file", cfg(`{ name = "access_secret", type = "file", path = "priv/first_access_secret", accept = ["priv/second_access_secret"] }`), nil, []string{"priv/second_access_secret"}, ""},
		{"file accepts two", cfg(`{ name = "access_secret", type = "file", path = "priv/first_access_secret", accept = ["priv/second_access_secret", "priv/third"] }`), nil, []string{"priv/second_access_secret", "priv/third"}, ""},
		{"env accepts a variable", cfg(`{ name = "access_secret", type = "env", var = "NEW", accept = ["OLD"] }`), map[string]string{"NEW": "new secret", "OLD": "old secret"}, []string{"OLD"}, ""},
		{"accept on a ram key", cfg(`{ name = "access_secret", type = "ram", accept = ["x"] }`), nil, nil,
			`: mod_keystore: key "access_secret": only file and env keys take accept`},
		{"accept empty entry", cfg(`{ name = "access_secret", type = "file", path = "priv/first_access_secret", accept = [""] }`), nil, nil,
			`mod_keystore: key "access_secret": accept[0] is empty: want a path`},
		{"accept names the key's own file", cfg(`{ name = "access_secret", type = "file", path = "priv/first_access_secret", accept = ["priv/first_access_secret"] }`), nil, nil,
			`key "access_secret": accept[0] "priv/first_access_secret" is named twice`},
		{"accept twice", cfg(`{ name = "access_secret", type = "env", var = "NEW", accept = ["OLD", "OLD"] }`), map[string]string{"NEW": "n", "OLD": "o"}, nil,
			`key "access_secret": accept[1] "OLD" is named twice`},
		{"accepted file missing", cfg(`{ name = "access_secret", type = "file", path = "priv/first_access_secret", accept = ["priv/gone"] }`), nil, nil,
			`host "first.com": mod_keystore: key "access_secret": file "`},
		{"accepted file empty", cfg(`{ name = "access_secret", type = "file", path = "priv/first_access_secret", accept = ["priv/empty"] }`), nil, nil,
			`/priv/empty": empty key`},
		{"accepted variable unset", cfg(`{ name = "access_secret", type = "env", var = "NEW", accept = ["OLD"] }`), map[string]string{"NEW": "n"}, nil,
			`key "access_secret": env "OLD": not set`},
		{"accepted value does not decode", cfg(`{ name = "access_secret", type = "env", var = "NEW", encoding = "hex", accept = ["OLD"] }`), map[string]string{"NEW": "00ff", "OLD": "zz"}, nil,
			`key "access_secret": env "OLD": value does not decode as hex`},
		{"accept not a list", cfg(`{ name = "access_secret", type = "file", path = "priv/first_access_secret", accept = "priv/x" }`), nil, nil,
			`accept`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t)
			if err := os.WriteFile(filepath.Join(dir, "priv/third"), []byte("a third secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			path := writeConfig(t, dir, tc.toml)
			c, err := config.Load(path)
			var got []string
			if err == nil {
				c.LookupEnv = fakeEnv(tc.env)
				var keys map[string]config.HostKeys
				keys, _, err = c.OpenKeys(config.KeySource{})
				if err == nil {
					for _, info := range keys["first.com"].Store.List() {
						if info.Name == "access_secret" {
							for _, a := range info.Accept {
								got = append(got, strings.TrimPrefix(a, dir+"/"))
							}
						}
					}
					secrets, _ := keys["first.com"].Verifier.Versions()
					if secrets != 1+len(tc.accept) {
						t.Errorf("the verifier accepts %d versions of access_secret, want %d", secrets, 1+len(tc.accept))
					}
				}
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if strings.Join(got, ",") != strings.Join(tc.accept, ",") {
					t.Fatalf("accepted versions %q, want %q", got, tc.accept)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.toml)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error\n%s\nis not one line containing\n%s", msg, tc.want)
			}
			for _, secret := range []string{"JYXEX4IQOEYFYQ2S3MC5P4ZT4SDHYEA7", "a different secret", "this is not hex", "old secret"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error holds a key's value: %s", msg)
				}
			}
		})
	}
}
