package keystore_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xtokend/xtokend/keystore"
)

func TestRAMSource(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "seed", "file-seed-bytes", 0o600)
	opts := keystore.Options{RAMKeySize: 16, Keys: []keystore.KeySpec{
		{Name: "access_secret", Type: "ram"},
		{Name: "otp_seed", Type: "file", Path: "seed"},
	}}
	given := map[string][]byte{"access_secret": bytes.Repeat([]byte{7}, 16)}
	var asked []string
	src := func(name string, size int) ([]byte, error) {
		asked = append(asked, name)
		if size != 16 {
			t.Errorf("size %d, want 16", size)
		}
		return given[name], nil
	}
	s, _, err := keystore.NewWithRAM("a.test", opts, dir, env(nil), src)
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != "access_secret" {
		t.Fatalf("source asked for %q, want only the ram key", asked)
	}
	if k, _ := s.Key("access_secret"); !bytes.Equal(k, given["access_secret"]) {
		t.Fatal("the RAM key is not the source's")
	}
	given["access_secret"][0] = 8 // the store keeps a copy
	if k, _ := s.Key("access_secret"); k[0] != 7 {
		t.Fatal("the store did not copy the source's bytes")
	}
	// Reload re-reads files but never asks the source again.
	if _, err := s.Reload(); err != nil || len(asked) != 1 {
		t.Fatalf("reload: %v, source asked %d times", err, len(asked))
	}

	// ReplaceRAM swaps a ram key, and only a ram key.
	repl := bytes.Repeat([]byte{9}, 16)
	if err := s.ReplaceRAM("access_secret", repl); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.Key("access_secret"); !bytes.Equal(k, repl) {
		t.Fatal("ReplaceRAM did not take")
	}
	if k, _ := s.Key("otp_seed"); string(k) != "file-seed-bytes" {
		t.Fatal("ReplaceRAM changed another key")
	}
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"otp_seed", repl},     // a file key
		{"nope", repl},         // no such key
		{"access_secret", nil}, // empty
	} {
		if err := s.ReplaceRAM(tc.name, tc.key); err == nil {
			t.Errorf("ReplaceRAM(%q, %d bytes) = nil, want an error", tc.name, len(tc.key))
		}
	}

	// A source that fails or gives nothing fails New with the key named.
	for _, bad := range []keystore.RAMSource{
		func(string, int) ([]byte, error) { return nil, errors.New("not ready") },
		func(string, int) ([]byte, error) { return nil, nil },
	} {
		_, _, err := keystore.NewWithRAM("a.test", opts, dir, env(nil), bad)
		var ke *keystore.Error
		if !errors.As(err, &ke) || ke.Key != "access_secret" || ke.Host != "a.test" {
			t.Errorf("bad source: %v", err)
		}
	}
}
