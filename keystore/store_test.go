package keystore_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xtokend/xtokend/keystore"
)

// env is a fake environment for tests: no test touches the real one.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	return p
}

func TestKeyTypesAndEncodings(t *testing.T) {
	tests := []struct {
		name     string
		spec     keystore.KeySpec
		file     string // file content, for file keys
		envValue string // for env keys
		want     []byte
	}{
		{"file raw", keystore.KeySpec{Type: "file", Path: "k"}, "secret", "", []byte("secret")},
		{"file raw explicit", keystore.KeySpec{Type: "file", Path: "k", Encoding: "raw"}, "secret", "", []byte("secret")},
		{"file raw trimmed", keystore.KeySpec{Type: "file", Path: "k"}, " \t secret with inner space\r\n\n", "", []byte("secret with inner space")},
		{"file base32 padded", keystore.KeySpec{Type: "file", Path: "k", Encoding: "base32"}, "MZXW6===\n", "", []byte("foo")},
		{"file base32 unpadded", keystore.KeySpec{Type: "file", Path: "k", Encoding: "base32"}, "MZXW6", "", []byte("foo")},
		{"file base32 lower case", keystore.KeySpec{Type: "file", Path: "k", Encoding: "base32"}, "mzxw6===", "", []byte("foo")},
		{"file base32 pyotp seed", keystore.KeySpec{Type: "file", Path: "k", Encoding: "base32"}, "XVGR73KMZH2M4XMY\n", "", []byte{0xbd, 0x4d, 0x1f, 0xed, 0x4c, 0xc9, 0xf4, 0xce, 0x5d, 0x98}},
		{"file base64 padded", keystore.KeySpec{Type: "file", Path: "k", Encoding: "base64"}, "Zm9vYg==\n", "", []byte("foob")},
		{"file base64 unpadded", keystore.KeySpec{Type: "file", Path: "k", Encoding: "base64"}, "Zm9vYg", "", []byte("foob")},
		{"file base64 url alphabet", keystore.KeySpec{Type: "file", Path: "k", Encoding: "base64"}, "-_8", "", []byte{0xfb, 0xff}},
		{"file base64 std alphabet", keystore.KeySpec{Type: "file", Path: "k", Encoding: "base64"}, "+/8=", "", []byte{0xfb, 0xff}},
		{"file hex", keystore.KeySpec{Type: "file", Path: "k", Encoding: "hex"}, "00ff10\n", "", []byte{0, 0xff, 0x10}},
		{"file hex upper", keystore.KeySpec{Type: "file", Path: "k", Encoding: "hex"}, "00FF10", "", []byte{0, 0xff, 0x10}},
		{"file in subfolder", keystore.KeySpec{Type: "file", Path: "priv/k"}, "x", "", []byte("x")},
		{"env raw", keystore.KeySpec{Type: "env", Var: "K"}, "", "  from env\n", []byte("from env")},
		{"env base32", keystore.KeySpec{Type: "env", Var: "K", Encoding: "base32"}, "", "MZXW6", []byte("foo")},
		{"env base64", keystore.KeySpec{Type: "env", Var: "K", Encoding: "base64"}, "", "Zm9v", []byte("foo")},
		{"env hex", keystore.KeySpec{Type: "env", Var: "K", Encoding: "hex"}, "", "666f6f", []byte("foo")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.spec.Type == "file" {
				writeFile(t, dir, tc.spec.Path, tc.file, 0o600)
			}
			tc.spec.Name = "k1"
			s, warns, err := keystore.New("a.example", keystore.Options{Keys: []keystore.KeySpec{tc.spec}}, dir, env(map[string]string{"K": tc.envValue}))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if len(warns) != 0 {
				t.Errorf("warnings for a 0600 file: %v", warns)
			}
			got, err := s.Key("k1")
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("Key = %x, want %x", got, tc.want)
			}
			info := s.List()
			if len(info) != 1 || info[0].Name != "k1" || info[0].Type != tc.spec.Type || info[0].Size != len(tc.want) {
				t.Errorf("List = %+v", info)
			}
		})
	}
}

func TestRAMKeys(t *testing.T) {
	opts := keystore.Options{RAMKeySize: 64, Keys: []keystore.KeySpec{{Name: "a", Type: "ram"}, {Name: "b", Type: "ram"}}}
	s1, _, err := keystore.New("one.example", opts, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, _, err := keystore.New("two.example", opts, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := s1.Key("a")
	b1, _ := s1.Key("b")
	a2, _ := s2.Key("a")
	if len(a1) != 64 || len(b1) != 64 {
		t.Fatalf("sizes %d, %d; want 64", len(a1), len(b1))
	}
	if bytes.Equal(a1, b1) || bytes.Equal(a1, a2) || s1.SameKey(s2, "a") {
		t.Error("RAM keys repeat across names or hosts")
	}
	if bytes.Equal(a1, make([]byte, 64)) {
		t.Error("RAM key is all zeros")
	}
	if _, err := s1.Reload(); err != nil {
		t.Fatal(err)
	}
	if again, _ := s1.Key("a"); !bytes.Equal(again, a1) {
		t.Error("Reload changed a RAM key")
	}
}

func TestDefaultOptions(t *testing.T) {
	s, warns, err := keystore.New("localhost", keystore.DefaultOptions(), "", nil)
	if err != nil || len(warns) != 0 {
		t.Fatalf("New(DefaultOptions) = %v, %v", warns, err)
	}
	for _, name := range []string{"access_secret", "otp_seed"} {
		if k, err := s.Key(name); err != nil || len(k) != 2048 {
			t.Errorf("%s: %d bytes, %v", name, len(k), err)
		}
	}
}

func TestKeyReturnsCopy(t *testing.T) {
	s, err := keystore.NewStatic("h", map[string][]byte{"k": []byte("abc")})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.Key("k")
	k[0] = 'X'
	if again, _ := s.Key("k"); string(again) != "abc" {
		t.Errorf("a caller changed the stored key: %q", again)
	}
	key, _ := s.Get("k")
	b := key.Bytes()
	b[0] = 'Y'
	if again, _ := s.Key("k"); string(again) != "abc" {
		t.Errorf("Key.Bytes exposed the stored key: %q", again)
	}
}

func TestNoSuchKey(t *testing.T) {
	s, err := keystore.NewStatic("h.example", map[string][]byte{"k": []byte("abc")})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "nope", "K"} {
		b, err := s.Key(name)
		if !errors.Is(err, keystore.ErrNoKey) || b != nil {
			t.Errorf("Key(%q) = %q, %v; want nil, ErrNoKey", name, b, err)
		}
		if err != nil && !strings.Contains(err.Error(), `host "h.example"`) {
			t.Errorf("error does not name the host: %v", err)
		}
	}
	if _, err := keystore.NewStatic("h", map[string][]byte{"k": nil}); err == nil {
		t.Error("NewStatic accepted an empty key")
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "good", "c2VjcmV0", 0o600)
	writeFile(t, dir, "empty", " \n\t\n", 0o600)
	writeFile(t, dir, "badhex", "zz-secret-zz", 0o600)
	writeFile(t, dir, "badb32", "not base32!", 0o600)
	writeFile(t, dir, "badb64", "no*base64*here", 0o600)
	writeFile(t, dir, "pad", "====", 0o600)
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string { return filepath.Join(dir, p) }
	e := env(map[string]string{"EMPTY": "  ", "SET": "v"})
	tests := []struct {
		name string
		opts keystore.Options
		want string // the whole error line
	}{
		{"negative ram_key_size", keystore.Options{RAMKeySize: -1},
			`keystore: host "h": mod_keystore: ram_key_size -1 is negative`},
		{"zero ram_key_size with a ram key", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "ram"}}},
			`keystore: host "h": mod_keystore: key "a": ram_key_size is 0, so this ram key would be empty`},
		{"no name", keystore.Options{RAMKeySize: 1, Keys: []keystore.KeySpec{{Type: "ram"}}},
			`keystore: host "h": mod_keystore: keys[0] has no name`},
		{"name twice", keystore.Options{RAMKeySize: 1, Keys: []keystore.KeySpec{{Name: "a", Type: "ram"}, {Name: "a", Type: "file", Path: "good"}}},
			`keystore: host "h": mod_keystore: key "a": name used twice`},
		{"unknown type", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "disk"}}},
			`keystore: host "h": mod_keystore: key "a": unknown type "disk" (ram, file, env)`},
		{"no type", keystore.Options{Keys: []keystore.KeySpec{{Name: "a"}}},
			`keystore: host "h": mod_keystore: key "a": no type (ram, file, env)`},
		{"unknown encoding", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "good", Encoding: "base58"}}},
			`keystore: host "h": mod_keystore: key "a": unknown encoding "base58" (raw, base32, base64, hex)`},
		{"file without path", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file"}}},
			`keystore: host "h": mod_keystore: key "a": a file key needs a path`},
		{"file with var", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "good", Var: "X"}}},
			`keystore: host "h": mod_keystore: key "a": a file key takes path, not var`},
		{"env without var", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "env"}}},
			`keystore: host "h": mod_keystore: key "a": an env key needs a var`},
		{"env with path", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "env", Var: "SET", Path: "good"}}},
			`keystore: host "h": mod_keystore: key "a": an env key takes var, not path`},
		{"ram with path", keystore.Options{RAMKeySize: 8, Keys: []keystore.KeySpec{{Name: "a", Type: "ram", Path: "good"}}},
			`keystore: host "h": mod_keystore: key "a": a ram key takes no path, var or encoding`},
		{"missing file", keystore.Options{Keys: []keystore.KeySpec{{Name: "otp_seed", Type: "file", Path: "priv/x"}}},
			`keystore: host "h": mod_keystore: key "otp_seed": file "` + abs("priv/x") + `": open: no such file or directory`},
		{"directory", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "adir"}}},
			`keystore: host "h": mod_keystore: key "a": file "` + abs("adir") + `": is a directory, not a key file`},
		{"empty file", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "empty"}}},
			`keystore: host "h": mod_keystore: key "a": file "` + abs("empty") + `": empty key`},
		{"bad hex", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "badhex", Encoding: "hex"}}},
			`keystore: host "h": mod_keystore: key "a": file "` + abs("badhex") + `": value does not decode as hex`},
		{"bad base32", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "badb32", Encoding: "base32"}}},
			`keystore: host "h": mod_keystore: key "a": file "` + abs("badb32") + `": value does not decode as base32`},
		{"bad base64", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "badb64", Encoding: "base64"}}},
			`keystore: host "h": mod_keystore: key "a": file "` + abs("badb64") + `": value does not decode as base64`},
		{"only padding", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "pad", Encoding: "base64"}}},
			`keystore: host "h": mod_keystore: key "a": file "` + abs("pad") + `": empty key after decoding`},
		{"env not set", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "env", Var: "UNSET"}}},
			`keystore: host "h": mod_keystore: key "a": env "UNSET": not set`},
		{"env empty", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "env", Var: "EMPTY"}}},
			`keystore: host "h": mod_keystore: key "a": env "EMPTY": empty key`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := keystore.New("h", tc.opts, dir, e)
			if err == nil {
				t.Fatalf("New accepted %+v (keys %v)", tc.opts, s.List())
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			var ke *keystore.Error
			if !errors.As(err, &ke) {
				t.Errorf("error is %T, want *keystore.Error", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the key's value: %v", err)
			}
		})
	}
}

func TestMissingFileIsNotExist(t *testing.T) {
	_, _, err := keystore.New("h", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "nope"}}}, t.TempDir(), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v; want one that is fs.ErrNotExist", err)
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	dir := t.TempDir()
	p := writeFile(t, dir, "k", "x", 0o000)
	_, _, err := keystore.New("h", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "k"}}}, dir, nil)
	want := `keystore: host "h": mod_keystore: key "a": file "` + p + `": open: permission denied`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v; want %s", err, want)
	}
}

func TestLooseFileModeWarns(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o400, 0o640, 0o604, 0o644} {
		dir := t.TempDir()
		p := writeFile(t, dir, "k", "topsecret", mode)
		_, warns, err := keystore.New("h", keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: "k"}}}, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		loose := mode&0o044 != 0
		if loose != (len(warns) == 1) {
			t.Errorf("mode %#o: warnings %v", mode, warns)
			continue
		}
		if loose {
			w := warns[0].String()
			want := fmt.Sprintf(`keystore: host "h": mod_keystore: key "a": file %q: readable by group or others (mode %#o); chmod 600 it`, p, uint32(mode))
			if w != want {
				t.Errorf("warning\n got: %s\nwant: %s", w, want)
			}
		}
	}
}

func TestKeyRedacted(t *testing.T) {
	s, err := keystore.NewStatic("h", map[string][]byte{"k": []byte("topsecret")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		fmt.Fprintf(&out, verb+"\n", k)
	}
	fmt.Fprintf(&out, "%v %+v\n", struct{ K keystore.Key }{k}, []keystore.Key{k})
	fmt.Fprintln(&out, k.String(), k.GoString())
	j, _ := json.Marshal(map[string]any{"k": k})
	out.Write(j)
	logger := slog.New(slog.NewTextHandler(&out, nil))
	logger.Info("key", "k", k)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("key", "k", k)
	if bytes.Contains(out.Bytes(), []byte("topsecret")) || bytes.Contains(out.Bytes(), []byte("746f70")) {
		t.Fatalf("a key's value was printed:\n%s", out.Bytes())
	}
	if n := strings.Count(out.String(), "[redacted]"); n < 14 {
		t.Errorf("[redacted] printed %d times:\n%s", n, out.Bytes())
	}
}

func TestSameKey(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "shared", "same bytes", 0o600)
	writeFile(t, dir, "other", "other bytes", 0o600)
	open := func(host, path string) *keystore.Store {
		s, _, err := keystore.New(host, keystore.Options{Keys: []keystore.KeySpec{{Name: "a", Type: "file", Path: path}}}, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b, c := open("a", "shared"), open("b", "shared"), open("c", "other")
	if !a.SameKey(b, "a") {
		t.Error("one file named by two hosts: SameKey = false")
	}
	if a.SameKey(c, "a") || a.SameKey(b, "nope") {
		t.Error("SameKey = true for different or missing keys")
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "k", "one", 0o600)
	opts := keystore.Options{RAMKeySize: 16, Keys: []keystore.KeySpec{
		{Name: "r", Type: "ram"},
		{Name: "f", Type: "file", Path: "k"},
		{Name: "e", Type: "env", Var: "E"},
	}}
	vars := map[string]string{"E": "env one"}
	var mu sync.Mutex
	lookup := func(k string) (string, bool) { mu.Lock(); defer mu.Unlock(); v, ok := vars[k]; return v, ok }
	s, _, err := keystore.New("h", opts, dir, lookup)
	if err != nil {
		t.Fatal(err)
	}
	ram, _ := s.Key("r")

	writeFile(t, dir, "k", "two", 0o600)
	mu.Lock()
	vars["E"] = "env two"
	mu.Unlock()
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"f": "two", "e": "env two", "r": string(ram)} {
		if got, _ := s.Key(name); string(got) != want {
			t.Errorf("after Reload, %s = %q; want %q", name, got, want)
		}
	}

	// A broken key file: Reload fails and the store keeps its keys.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), `key "f"`) {
		t.Errorf("Reload with the file gone: %v", err)
	}
	if got, _ := s.Key("f"); string(got) != "two" {
		t.Errorf("a failed Reload changed the keys: f = %q", got)
	}

	// A loose mode found at reload is a warning.
	writeFile(t, dir, "k", "three", 0o644)
	warns, err := s.Reload()
	if err != nil || len(warns) != 1 {
		t.Errorf("Reload = %v, %v; want one warning", warns, err)
	}
}

// TestConcurrentReload runs lookups while the keys are reloaded (run it with
// -race). Generation i holds i+1 bytes in both the file key and the env key,
// so a reader that saw half of one generation and half of another would see
// two sizes in one List.
func TestConcurrentReload(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "k", "x", 0o600)
	var mu sync.Mutex
	gen := "x"
	lookup := func(string) (string, bool) { mu.Lock(); defer mu.Unlock(); return gen, true }
	s, _, err := keystore.New("h", keystore.Options{RAMKeySize: 32, Keys: []keystore.KeySpec{
		{Name: "f", Type: "file", Path: "k"}, {Name: "e", Type: "env", Var: "E"}, {Name: "r", Type: "ram"},
	}}, dir, lookup)
	if err != nil {
		t.Fatal(err)
	}
	ram, _ := s.Key("r")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				f, err1 := s.Key("f")
				r, err2 := s.Key("r")
				if err1 != nil || err2 != nil || len(f) == 0 || !bytes.Equal(r, ram) {
					errs <- fmt.Errorf("lookup during reload: %q %v %v", f, err1, err2)
					return
				}
				infos := s.List()
				if len(infos) != 3 || infos[0].Size != infos[1].Size || infos[2].Size != 32 {
					errs <- fmt.Errorf("List saw a mix of generations: %+v", infos)
					return
				}
			}
		}()
	}
	for i := 2; i <= 200; i++ {
		g := strings.Repeat("x", i)
		writeFile(t, dir, "k.new", g, 0o600)
		if err := os.Rename(filepath.Join(dir, "k.new"), filepath.Join(dir, "k")); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		gen = g
		mu.Unlock()
		if _, err := s.Reload(); err != nil {
			t.Fatal(err)
		}
		f, _ := s.Key("f")
		e, _ := s.Key("e")
		if string(f) != g || string(e) != g {
			t.Fatalf("after reload %d: f=%q e=%q", i, f, e)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Reloads may race each other (SIGHUP twice); each publishes a whole set.
func TestParallelReloads(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "k", "same", 0o600)
	s, _, err := keystore.New("h", keystore.Options{Keys: []keystore.KeySpec{{Name: "f", Type: "file", Path: "k"}}}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.Reload(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if k, _ := s.Key("f"); string(k) != "same" {
		t.Errorf("f = %q", k)
	}
}

func TestZeroStore(t *testing.T) {
	var s keystore.Store
	if _, err := s.Key("access_secret"); !errors.Is(err, keystore.ErrNoKey) {
		t.Errorf("zero Store: %v", err)
	}
	if s.Has("x") || len(s.List()) != 0 {
		t.Error("zero Store holds keys")
	}
	if _, err := s.Reload(); err != nil {
		t.Errorf("zero Store Reload: %v", err)
	}
}
