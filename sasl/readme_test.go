package sasl

import (
	"bytes"
	"context"
	"encoding/base32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README's minting examples (Python and Go, standard library only) are
// what application developers copy. These tests run them and check that the
// tokens they print verify here, so the examples cannot drift from the format.

var fencedBlock = regexp.MustCompile("(?s)```(python|go)\n(.*?)```")

// readmeBlock returns the first block of lang in README.md that contains marker.
func readmeBlock(t *testing.T, lang, marker string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fencedBlock.FindAllStringSubmatch(string(b), -1) {
		if m[1] == lang && strings.Contains(m[2], marker) {
			return m[2]
		}
	}
	t.Fatalf("README.md has no ```%s block with %q", lang, marker)
	return ""
}

// writeVectorKeys writes the shared vectors' keys as the README's examples read
// them: priv/first_access_secret raw, priv/first_otp_seed base32.
func writeVectorKeys(t *testing.T, dir string, v vectors) KeyMap {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "priv"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "priv", "first_access_secret"), []byte(v.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "priv", "first_otp_seed"), []byte(v.Seed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := base32.StdEncoding.DecodeString(v.Seed)
	if err != nil {
		t.Fatal(err)
	}
	return KeyMap{"access_secret": []byte(v.Secret), "otp_seed": seed}
}

func TestReadmeMintingExamplePython(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	v := loadVectors(t)
	dir := t.TempDir()
	keys := writeVectorKeys(t, dir, v)
	if err := os.WriteFile(filepath.Join(dir, "mint.py"), []byte(readmeBlock(t, "python", "def mint_token")), 0o600); err != nil {
		t.Fatal(err)
	}

	// The script's own main reads the key files and mints for alice@first.com now.
	cmd := exec.Command(python, "mint.py")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python mint.py: %v\n%s", err, out)
	}
	if _, err := Verify(context.Background(), keys, DefaultOptions(), "alice", strings.TrimSpace(string(out)), "first.com", time.Now()); err != nil {
		t.Fatalf("README Python token does not verify: %v", err)
	}

	// At each vector's time, the OTP part must be the vector's.
	for _, tok := range v.Tokens {
		cmd := exec.Command(python, "-c", `import sys, base64, mint
print(mint.mint_token(sys.argv[1], sys.argv[2], sys.argv[3].encode(), base64.b32decode(sys.argv[4]), now=int(sys.argv[5])))`,
			tok.Node, tok.Host, v.Secret, v.Seed, strconv.FormatInt(tok.UnixTime, 10))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		got := strings.TrimSpace(string(out))
		if got[:v.OTPDigits] != tok.Token[:v.OTPDigits] {
			t.Errorf("%s@%s: OTP %q, vector has %q", tok.Node, tok.Host, got[:v.OTPDigits], tok.Token[:v.OTPDigits])
		}
		if _, err := Verify(context.Background(), keys, DefaultOptions(), tok.Node, got, tok.Host, time.Unix(tok.UnixTime, 0)); err != nil {
			t.Errorf("%s@%s: README Python token does not verify: %v", tok.Node, tok.Host, err)
		}
	}
}

func TestReadmeMintingExampleGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	v := loadVectors(t)
	dir := t.TempDir()
	keys := writeVectorKeys(t, dir, v)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(readmeBlock(t, "go", "func MintToken")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module mintexample\n\ngo 1.22\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run README example: %v\n%s", err, stderr.String())
	}
	if _, err := Verify(context.Background(), keys, DefaultOptions(), "alice", strings.TrimSpace(string(out)), "first.com", time.Now()); err != nil {
		t.Fatalf("README Go token does not verify: %v", err)
	}
}
