package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runXtokendCmd runs the xtokend command in-process, as a user would from a shell.
func runXtokendCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// configFolderWith lays out files (path -> content) in a fresh folder, key files 0600.
func configFolderWith(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
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

func TestDispatch(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{[]string{"bogus"}, exitUsage, "", `unknown command "bogus"`},
		{[]string{"help"}, exitOK, "xtokend check-config", ""},
		{[]string{"-h"}, exitOK, "Exit codes", ""},
		{[]string{"--help"}, exitOK, "Exit codes", ""},
		{[]string{"help", "x"}, exitUsage, "", "no arguments"},
		{[]string{"version", "x"}, exitUsage, "", "no arguments"},
		// Every subcommand's -h prints its usage and exits 0; a stray argument is bad usage.
		{[]string{"serve", "-h"}, exitOK, "", "-config"},
		{[]string{"check-config", "-h"}, exitOK, "", "usage: xtokend check-config"},
		{[]string{"genkey", "-h"}, exitOK, "", "usage: xtokend genkey"},
		{[]string{"token", "-h"}, exitOK, "", "usage: xtokend token"},
		{[]string{"serve", "extra"}, exitUsage, "", `serve: unexpected argument "extra"`},
		{[]string{"check-config", "extra"}, exitUsage, "", `check-config: unexpected argument "extra"`},
		{[]string{"genkey", "-bytes", "16", "extra"}, exitUsage, "", `genkey: unexpected argument "extra"`},
	}
	for _, tc := range tests {
		code, stdout, stderr := runXtokendCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("xtokend %q: exit %d\nstdout: %s\nstderr: %s", tc.args, code, stdout, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := runXtokendCmd(t, "version")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	for _, want := range []string{"xtokend " + version + "\n", "go go1.", "mellium.im/xmpp v0.23.0", "mellium.im/sasl v0.3.2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("version output lacks %q:\n%s", want, stdout)
		}
	}
}
