package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
)

// FuzzParse feeds arbitrary bytes to the config parser: it must answer
// with a config or a one-line error, never panic or hang. The seeds are the
// files of testdata/config and the committed corpus of testdata/fuzz.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/config/*.toml")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(twoHosts))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse(data, "/nonexistent/xtokend-fuzz/config.toml")
		if err != nil {
			if c != nil {
				t.Fatal("a config and an error")
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "config: ") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		if len(c.General.Hosts) == 0 {
			t.Fatal("accepted a config without hosts")
		}
		ram := 0
		files := false
		for _, h := range c.General.Hosts {
			hs, ok := c.Host(h)
			if !ok {
				t.Fatalf("host %q has no settings", h)
			}
			for _, k := range hs.Keystore.Keys {
				switch k.Type {
				case "ram":
					ram += hs.Keystore.RAMKeySize
				case "file":
					files = true
				}
			}
		}
		_ = c.Warnings()
		// Open the keystores when that reads no file and draws little
		// randomness: env keys come from an empty fake environment.
		if !files && ram <= 1<<20 {
			c.LookupEnv = func(string) (string, bool) { return "", false }
			if _, err := c.OpenKeystores(); err != nil && strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("OpenKeystores error is not one line: %q", err)
			}
		}
	})
}
