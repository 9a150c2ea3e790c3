package sasl

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMintToken(t *testing.T) {
	v := loadVectors(t)
	keys := vectorKeys(t, v)
	now := time.Unix(v.Tokens[0].UnixTime, 0)
	opts := Options{OTPDigits: 8, OTPPeriod: 30, OTPSkew: 1, NonceDigits: 32} // no key names: not needed
	tok, exp, err := MintToken(keys["access_secret"], keys["otp_seed"], opts, "Carol", "first.com", now)
	if err != nil {
		t.Fatal(err)
	}
	if tok[:8] != v.Tokens[0].Token[:8] {
		t.Errorf("OTP %s, the vector's is %s", tok[:8], v.Tokens[0].Token[:8])
	}
	if node, err := Verify(context.Background(), keys, DefaultOptions(), "carol", tok, "first.com", exp.Add(-time.Second)); err != nil || node != "carol" {
		t.Fatalf("Verify(MintToken) = %q, %v", node, err)
	}
	for _, bad := range []struct {
		secret, seed []byte
		opts         Options
		node         string
	}{
		{nil, keys["otp_seed"], opts, "carol"},
		{keys["access_secret"], nil, opts, "carol"},
		{keys["access_secret"], keys["otp_seed"], Options{}, "carol"},
		{keys["access_secret"], keys["otp_seed"], opts, "a b"},
	} {
		if _, _, err := MintToken(bad.secret, bad.seed, bad.opts, bad.node, "first.com", now); err == nil {
			t.Errorf("MintToken(%+v) succeeded", bad.opts)
		} else if strings.Contains(err.Error(), v.Secret) {
			t.Errorf("error %q holds the secret", err)
		}
	}
}

// TestMintFromAnotherModule builds a program of another module that imports
// this package and mints, as an application backend would: the package must
// need nothing internal to the module.
func TestMintFromAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const prog = `package main

import (
	"fmt"
	"time"

	"github.com/xtokend/xtokend/sasl"
)

func main() {
	tok, _, err := sasl.MintToken([]byte("app-secret"), []byte("app-seed"), sasl.DefaultOptions(), "alice", "example.org", time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println(tok)
}
`
	gomod := "module mintapp\n\ngo 1.26\n\nrequire github.com/xtokend/xtokend v0.0.0\n\nreplace github.com/xtokend/xtokend => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum")) // the same dependencies, already verified
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"main.go": []byte(prog), "go.mod": []byte(gomod), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goBin, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, stderr.String())
	}
	keys := KeyMap{"access_secret": []byte("app-secret"), "otp_seed": []byte("app-seed")}
	if node, err := Verify(context.Background(), keys, DefaultOptions(), "alice", strings.TrimSpace(string(out)), "example.org", time.Now()); err != nil || node != "alice" {
		t.Fatalf("the other module's token: %q, %v", node, err)
	}
}
