package keystore_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/keystore"
)

// TestVersions: a key's accepted versions are read like the key itself,
// listed after it (the one in force first), shown by List by path or
// variable, and re-read by Reload like every file key.
func TestVersions(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "new", "6e6577\n", 0o600) // hex "new"
	old := writeFile(t, dir, "old", "6f6c64", 0o600)
	opts := keystore.Options{Keys: []keystore.KeySpec{
		{Name: "access_secret", Type: "file", Path: "new", Encoding: "hex", Accept: []string{"old"}},
		{Name: "psk", Type: "env", Var: "PSK", Accept: []string{"PSK_OLD"}},
	}}
	s, _, err := keystore.New("first.com", opts, dir, env(map[string]string{"PSK": "p2", "PSK_OLD": "p1"}))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{"access_secret": {"new", "old"}, "psk": {"p2", "p1"}} {
		got, err := s.Versions(name)
		if err != nil || len(got) != len(want) {
			t.Fatalf("Versions(%s) = %q, %v", name, got, err)
		}
		for i := range want {
			if string(got[i]) != want[i] {
				t.Fatalf("Versions(%s)[%d] = %q, want %q", name, i, got[i], want[i])
			}
		}
		if k, _ := s.Key(name); !bytes.Equal(k, got[0]) {
			t.Fatalf("Key(%s) is not the first version", name)
		}
	}
	infos := s.List()
	if len(infos[0].Accept) != 1 || infos[0].Accept[0] != old || len(infos[1].Accept) != 1 || infos[1].Accept[0] != "PSK_OLD" {
		t.Fatalf("List shows accepted versions %q and %q", infos[0].Accept, infos[1].Accept)
	}
	if _, err := s.Versions("nope"); err == nil {
		t.Fatal("Versions of a missing key")
	}

	// The old version's file changes: Reload reads it again. Gone: Reload
	// is refused and the versions in force stay.
	writeFile(t, dir, "old", "6f6c6432", 0o600)
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Versions("access_secret"); string(got[1]) != "old2" {
		t.Fatalf("after Reload the accepted version is %q", got[1])
	}
	writeFile(t, dir, "old", "", 0o600)
	_, err = s.Reload()
	if err == nil || !strings.Contains(err.Error(), `key "access_secret": file "`+old+`": empty key`) {
		t.Fatalf("Reload with an empty accepted version: %v", err)
	}
	if got, _ := s.Versions("access_secret"); len(got) != 2 || string(got[1]) != "old2" {
		t.Fatal("a refused Reload changed the versions in force")
	}
}

// TestAcceptValidation: what Validate refuses of accept lists.
func TestAcceptValidation(t *testing.T) {
	tests := []struct {
		name string
		spec keystore.KeySpec
		want string
	}{
		{"ram", keystore.KeySpec{Name: "k", Type: "ram", Accept: []string{"x"}}, `key "k": only file and env keys take accept`},
		{"empty path", keystore.KeySpec{Name: "k", Type: "file", Path: "a", Accept: []string{"b", ""}}, `key "k": accept[1] is empty: want a path`},
		{"empty var", keystore.KeySpec{Name: "k", Type: "env", Var: "A", Accept: []string{""}}, `accept[0] is empty: want a variable`},
		{"own path", keystore.KeySpec{Name: "k", Type: "file", Path: "a", Accept: []string{"a"}}, `accept[0] "a" is named twice`},
		{"own var", keystore.KeySpec{Name: "k", Type: "env", Var: "A", Accept: []string{"B", "A"}}, `accept[1] "A" is named twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := keystore.Options{RAMKeySize: 32, Keys: []keystore.KeySpec{tc.spec}}.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
