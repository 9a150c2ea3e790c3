package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/internal/testkit"
)

// repoRoot is where config.toml.example and README.md live.
const repoRoot = "../.."

// TestConfigExample keeps config.toml.example honest: it passes
// check-config as a fresh clone has it, key files and all.
func TestConfigExample(t *testing.T) {
	path := filepath.Join(repoRoot, "config.toml.example")
	code, stdout, stderr := runXtokendCmd(t, "check-config", "-config", path)
	if code != exitOK {
		t.Fatalf("check-config -config config.toml.example: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"host localhost", "host first.com", "examples/priv/first_otp_seed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// Every option of the file's structure appears in the example: an
	// option added to a package's Options without a line here fails.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	options := tomlOptions(reflect.TypeOf(config.Config{}), "", map[reflect.Type]bool{})
	if len(options) < 30 {
		t.Fatalf("found only %d options: %q", len(options), options)
	}
	for _, option := range options {
		name := option[strings.LastIndex(option, ".")+1:]
		if !regexp.MustCompile(`(?m)(^|[\s{,])` + regexp.QuoteMeta(name) + `\s*=`).Match(b) {
			t.Errorf("config.toml.example does not show %s", option)
		}
	}
	for _, section := range []string{"[[host_config]]", "[host_config.modules.mod_keystore]", "[host_config.modules.mod_auth_token]"} {
		if !strings.Contains(string(b), section) {
			t.Errorf("config.toml.example does not show %s", section)
		}
	}
}

// TestReadmeConfigs runs check-config on every ```toml block of README.md,
// each in a folder of its own where every key file it names exists and
// every env key it names is set, with random values in the key's encoding.
// A block whose first line is "# not-a-full-config" is a fragment and only
// has to be valid TOML syntax (it is parsed, not checked).
func TestReadmeConfigs(t *testing.T) {
	checkTOMLBlocks(t, filepath.Join(repoRoot, "README.md"))
}

func checkTOMLBlocks(t *testing.T, md string) {
	blocks := tomlBlocks(t, md)
	t.Logf("%d toml blocks in %s", len(blocks), md)
	for i, block := range blocks {
		t.Run(fmt.Sprintf("block%d", i), func(t *testing.T) {
			if strings.HasPrefix(block, "# not-a-full-config") {
				var v map[string]any
				if _, err := tomlDecode(block, &v); err != nil {
					t.Fatalf("README toml block %d:\n%s\n%v", i, block, err)
				}
				return
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "config.toml")
			if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
				t.Fatal(err)
			}
			writeTLSFiles(t, dir, block)
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatalf("README toml block %d:\n%s\n%v", i, block, err)
			}
			for _, h := range cfg.General.Hosts {
				hs, _ := cfg.Host(h)
				for _, k := range hs.Keystore.Keys {
					value := randomEncoded(t, k.Encoding)
					switch k.Type {
					case "file":
						p := cfg.Resolve(k.Path)
						if _, err := os.Stat(p); err == nil {
							continue // two hosts may name one file (allow_shared_keys)
						}
						if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
							t.Fatal(err)
						}
					case "env":
						if _, set := os.LookupEnv(k.Var); !set {
							t.Setenv(k.Var, value)
						}
					}
					for _, a := range k.Accept { // versions in rotation
						if k.Type == "env" {
							t.Setenv(a, randomEncoded(t, k.Encoding))
						} else if err := os.WriteFile(cfg.Resolve(a), []byte(randomEncoded(t, k.Encoding)), 0o600); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			code, _, stderr := runXtokendCmd(t, "check-config", "-config", path)
			if code != exitOK {
				t.Fatalf("check-config on README toml block %d: exit %d\n%s\n%s", i, code, block, stderr)
			}
		})
	}
}

// tomlBlocks returns the ```toml fenced blocks of a Markdown file.
func tomlBlocks(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []string
		cur    *strings.Builder
		indent string // of the opening fence: a block in a list item is indented
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```toml":
			indent = line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			cur = new(strings.Builder)
		case cur != nil && trimmed == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(strings.TrimPrefix(line, indent) + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatal("README.md: a ```toml block is not closed")
	}
	return blocks
}

func randomEncoded(t *testing.T, encoding string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	switch encoding {
	case "base32":
		return base32.StdEncoding.EncodeToString(b) + "\n"
	case "base64":
		return base64.StdEncoding.EncodeToString(b) + "\n"
	case "hex":
		return hex.EncodeToString(b) + "\n"
	default:
		return hex.EncodeToString(b) + "\n" // printable: also a fine env value
	}
}

// writeTLSFiles makes a self-signed certificate and key where the block's
// [tls] section says they are.
func writeTLSFiles(t *testing.T, dir, block string) {
	t.Helper()
	type pair struct{ Cert, Key string }
	var v struct {
		General    struct{ Hosts []string } `toml:"general"`
		TLS        pair                     `toml:"tls"`
		HostConfig []struct {
			Host string
			TLS  *pair `toml:"tls"`
		} `toml:"host_config"`
	}
	if _, err := tomlDecode(block, &v); err != nil {
		return // LoadConfig will say what is wrong
	}
	write := func(p pair, names ...string) {
		if p.Cert == "" || p.Key == "" || len(names) == 0 {
			return // LoadConfig will say what is wrong
		}
		c, err := testkit.SelfSigned(0, names...)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, f := range []string{p.Cert, p.Key} {
			if !filepath.IsAbs(f) {
				f = filepath.Join(dir, f)
			}
			if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, f)
		}
		if err := c.WriteFiles(paths[0], paths[1]); err != nil {
			t.Fatal(err)
		}
	}
	write(v.TLS, v.General.Hosts...)
	for _, hc := range v.HostConfig {
		if hc.TLS != nil {
			write(*hc.TLS, hc.Host)
		}
	}
}

// tomlOptions lists the dotted names of every option under t's toml tags.
func tomlOptions(t reflect.Type, prefix string, seen map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return nil
	}
	seen[t] = true
	defer delete(seen, t)
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		name := prefix + tag
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			if sub := tomlOptions(ft, name+".", seen); len(sub) > 0 {
				out = append(out, sub...)
				if f.Type.Kind() == reflect.Slice && tag == "keys" {
					out = append(out, name) // keys = [...] itself
				}
				continue
			}
		}
		out = append(out, name)
	}
	return out
}
