package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
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
	for _, args := range [][]string{{"version"}, {"-version"}, {"--version"}} {
		code, stdout, stderr := runXtokendCmd(t, args...)
		if code != exitOK || stderr != "" {
			t.Fatalf("xtokend %q: exit %d, stderr %s", args, code, stderr)
		}
		for _, want := range []string{"xtokend " + version + "\n", "go go1.", "mellium.im/xmpp v0.23.0", "mellium.im/sasl v0.3.2"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("xtokend %q: output lacks %q:\n%s", args, want, stdout)
			}
		}
		// Every module the binary links, as it records them, and only those.
		info, ok := debug.ReadBuildInfo()
		if !ok {
			t.Fatal("no build information")
		}
		for _, dep := range info.Deps {
			if !strings.Contains(stdout, "\n"+dep.Path+" "+dep.Version) {
				t.Errorf("version output lacks the linked module %s %s", dep.Path, dep.Version)
			}
		}
		if strings.Contains(stdout, "github.com/pquerna/otp") != linked(info, "github.com/pquerna/otp") {
			t.Errorf("version output names pquerna/otp wrongly (linked: %t):\n%s", linked(info, "github.com/pquerna/otp"), stdout)
		}
	}
	if code, _, stderr := runXtokendCmd(t, "-version", "x"); code != exitUsage || !strings.Contains(stderr, "no arguments") {
		t.Errorf("xtokend -version x: exit %d, stderr %s", code, stderr)
	}
}

func linked(info *debug.BuildInfo, path string) bool {
	for _, dep := range info.Deps {
		if dep.Path == path {
			return true
		}
	}
	return false
}

// TestWriteVersion: the VCS revision and whether the tree was modified, as
// the go command records them, and a replaced module with its replacement.
func TestWriteVersion(t *testing.T) {
	info := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/xtokend/xtokend", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "mellium.im/xmpp", Version: "v0.23.0"},
			{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "../fork", Version: ""}},
		},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "b582778aaaa"},
			{Key: "vcs.time", Value: "2026-12-02T17:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	var b strings.Builder
	writeVersion(&b, info)
	for _, want := range []string{
		"commit b582778aaaa 2026-12-02T17:00:00Z (modified)\n",
		"github.com/xtokend/xtokend (devel)\n",
		"mellium.im/xmpp v0.23.0\n",
		"example.com/old v1.0.0 => ../fork \n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks %q:\n%s", want, b.String())
		}
	}
	info.Settings = info.Settings[:2]
	b.Reset()
	writeVersion(&b, info)
	if strings.Contains(b.String(), "modified") {
		t.Errorf("an unmodified tree reported modified:\n%s", b.String())
	}
	b.Reset()
	writeVersion(&b, nil)
	if !strings.Contains(b.String(), "commit unknown") {
		t.Errorf("no build information, yet:\n%s", b.String())
	}
}
