package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/sasl"
)

// TestReadmeMintingWithReadmeKeys follows the README's key section with the
// built binary: its ```sh block makes priv/first_access_secret and
// priv/first_otp_seed with xtokend genkey, exactly as written; the two-host
// ```toml example reads them. The README's Python and Go minting examples,
// run beside those files, must print tokens that verify against the keys as
// xtokend loads them from that configuration.
func TestReadmeMintingWithReadmeKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs programs")
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(readme)
	bin := e2eBuild(t)
	dir := t.TempDir()

	genkeys := fencedWith(t, md, "sh", "xtokend genkey > priv/first_access_secret")
	sh := exec.Command("bash", "-e", "-c", genkeys)
	sh.Dir = dir
	sh.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("the README's genkey block: %v\n%s\n%s", err, genkeys, out)
	}

	block := fencedWith(t, md, "toml", `host = "first.com"`)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTLSFiles(t, dir, block)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	stores, err := cfg.OpenKeystores()
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := cfg.Host("first.com")
	verify := func(lang, out string) {
		t.Helper()
		token := strings.TrimSpace(out)
		if _, err := sasl.Verify(context.Background(), stores["first.com"], hs.AuthToken, "alice", token, "first.com", time.Now()); err != nil {
			t.Errorf("the README's %s example: its token does not verify against the README's keys and config: %v", lang, err)
		}
	}

	t.Run("python", func(t *testing.T) {
		python := "/usr/bin/python3"
		if _, err := os.Stat(python); err != nil {
			t.Skip("no /usr/bin/python3")
		}
		script := filepath.Join(t.TempDir(), "mint.py")
		if err := os.WriteFile(script, []byte(fencedWith(t, md, "python", "def mint_token")), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(python, script)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python: %v", err)
		}
		verify("Python", string(out))
	})
	t.Run("go", func(t *testing.T) {
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(fencedWith(t, md, "go", "func MintToken")), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module mintexample\n\ngo 1.22\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mint := filepath.Join(src, "mint")
		build := exec.Command("go", "build", "-o", mint, ".")
		build.Dir = src
		build.Env = append(os.Environ(), "GOWORK=off")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		cmd := exec.Command(mint)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("the Go example: %v", err)
		}
		verify("Go", string(out))
	})
}

var fenced = regexp.MustCompile("(?s)```([a-z]*)\n(.*?)```")

// fencedWith returns the first fenced block of lang that contains marker.
func fencedWith(t *testing.T, md, lang, marker string) string {
	t.Helper()
	for _, m := range fenced.FindAllStringSubmatch(md, -1) {
		if m[1] == lang && strings.Contains(m[2], marker) {
			return m[2]
		}
	}
	t.Fatalf("README.md has no ```%s block with %q", lang, marker)
	return ""
}
