package cluster

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// SecretSize is the length of the cluster secret in bytes.
const SecretSize = 32

// secrets are the keys derived from the cluster secret, one per use, so that
// no two protocols ever share a key.
type secrets struct {
	gossip      []byte             // AES-256 key of memberlist's gossip
	linkKey     ed25519.PrivateKey // the links' TLS identity, shared by every node
	fingerprint []byte             // HMAC key of file and env key fingerprints
}

// LoadSecret reads and checks a cluster secret file: 32 bytes written in
// base64 (standard or URL alphabet, padded or not), surrounding whitespace
// ignored. It also returns a warning when group or others can read the file.
// Errors are one line naming the file and never hold its content.
func LoadSecret(path string) (secret []byte, warning string, err error) {
	fail := func(reason string) ([]byte, string, error) {
		return nil, "", fmt.Errorf("%s: secret_file %q: %s", Section, path, reason)
	}
	if path == "" {
		return fail("no file named")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fail(err.Error())
	}
	text := strings.TrimSpace(string(b))
	if text == "" {
		return fail("empty")
	}
	secret, ok := decodeBase64(text)
	if !ok {
		return fail("not base64 (write it with: xtokend genkey -bytes 32 -encoding base64)")
	}
	if len(secret) != SecretSize {
		return fail(fmt.Sprintf("decodes to %d bytes, want %d (xtokend genkey -bytes 32 -encoding base64)", len(secret), SecretSize))
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		warning = fmt.Sprintf("%s: secret_file %q is readable by group or others (mode %04o); chmod 600 it", Section, path, st.Mode().Perm())
	}
	return secret, warning, nil
}

func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// derive makes the per-use keys. HKDF-SHA256 with distinct labels keeps the
// gossip key and the TLS key independent of each other.
func derive(secret []byte) (secrets, error) {
	if len(secret) != SecretSize {
		return secrets{}, fmt.Errorf("%s: secret is %d bytes, want %d", Section, len(secret), SecretSize)
	}
	gossip, err := hkdf.Key(sha256.New, secret, nil, "xtokend cluster gossip v1", 32)
	if err != nil {
		return secrets{}, fmt.Errorf("%s: deriving the gossip key: %v", Section, err)
	}
	seed, err := hkdf.Key(sha256.New, secret, nil, "xtokend cluster link v1", ed25519.SeedSize)
	if err != nil {
		return secrets{}, fmt.Errorf("%s: deriving the link key: %v", Section, err)
	}
	fp, err := hkdf.Key(sha256.New, secret, nil, "xtokend cluster key fingerprint v1", 32)
	if err != nil {
		return secrets{}, fmt.Errorf("%s: deriving the fingerprint key: %v", Section, err)
	}
	return secrets{gossip: gossip, linkKey: ed25519.NewKeyFromSeed(seed), fingerprint: fp}, nil
}
