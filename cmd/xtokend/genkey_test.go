package main

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/keystore"
)

func TestGenkey(t *testing.T) {
	tests := []struct {
		args   []string
		size   int
		decode func(string) ([]byte, error)
		enc    string // the keystore encoding that reads it back
	}{
		{nil, 32, base64.StdEncoding.DecodeString, "base64"},
		{[]string{"-encoding", "base64", "-bytes", "48"}, 48, base64.StdEncoding.DecodeString, "base64"},
		{[]string{"-encoding", "base32", "-bytes", "20"}, 20, base32.StdEncoding.DecodeString, "base32"},
		{[]string{"-encoding", "base32", "-bytes", "7"}, 7, base32.StdEncoding.DecodeString, "base32"},
		{[]string{"-encoding", "hex", "-bytes", "1"}, 1, hex.DecodeString, "hex"},
		{[]string{"-encoding", "raw", "-bytes", "64"}, 64, nil, "raw"},
	}
	for _, tc := range tests {
		code, stdout, stderr := runXtokendCmd(t, append([]string{"genkey"}, tc.args...)...)
		if code != exitOK || stderr != "" {
			t.Fatalf("genkey %q: exit %d: %s", tc.args, code, stderr)
		}
		var key []byte
		if tc.decode == nil {
			key = []byte(stdout)
		} else {
			line, ok := strings.CutSuffix(stdout, "\n")
			if !ok || strings.Contains(line, "\n") {
				t.Fatalf("genkey %q: not one line: %q", tc.args, stdout)
			}
			var err error
			if key, err = tc.decode(line); err != nil {
				t.Fatalf("genkey %q: %v", tc.args, err)
			}
		}
		if len(key) != tc.size {
			t.Errorf("genkey %q: %d bytes, want %d", tc.args, len(key), tc.size)
		}
		// What genkey writes, the keystore reads back as the same bytes.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "k"), []byte(stdout), 0o600); err != nil {
			t.Fatal(err)
		}
		s, _, err := keystore.New("h", keystore.Options{Keys: []keystore.KeySpec{{Name: "k", Type: "file", Path: "k", Encoding: tc.enc}}}, dir, nil)
		if err != nil {
			t.Fatalf("genkey %q: keystore: %v", tc.args, err)
		}
		if got, _ := s.Key("k"); !bytes.Equal(got, key) {
			t.Errorf("genkey %q: keystore read %x, genkey wrote %x", tc.args, got, key)
		}
	}
	// Two runs differ.
	_, a, _ := runXtokendCmd(t, "genkey")
	_, b, _ := runXtokendCmd(t, "genkey")
	if a == b {
		t.Error("two keys are the same")
	}
}

// A raw key never starts or ends with whitespace the keystore would trim.
func TestGenkeyRawNoEdgeWhitespace(t *testing.T) {
	for range 2000 {
		k, err := randomKey(2, true)
		if err != nil {
			t.Fatal(err)
		}
		if strings.IndexByte(asciiSpace, k[0]) >= 0 || strings.IndexByte(asciiSpace, k[1]) >= 0 {
			t.Fatalf("raw key %x has edge whitespace", k)
		}
	}
}

func TestGenkeyUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-bytes", "0"},
		{"-bytes", "-3"},
		{"-bytes", "100000"},
		{"-bytes", "x"},
		{"-encoding", "base58"},
		{"-bogus"},
		{"extra"},
	} {
		code, stdout, stderr := runXtokendCmd(t, append([]string{"genkey"}, args...)...)
		if code != exitUsage || stdout != "" || stderr == "" {
			t.Errorf("genkey %q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	if code, _, _ := runXtokendCmd(t, "genkey", "-h"); code != exitOK {
		t.Errorf("genkey -h: exit %d", code)
	}
}
