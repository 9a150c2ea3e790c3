package main

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"strings"
)

// maxGenkeyBytes bounds -bytes: keys are tens of bytes, RAM keys at most a few KiB.
const maxGenkeyBytes = 65536

// runGenkey is "xtokend genkey [-bytes N] [-encoding E]": print N random
// bytes from crypto/rand for a key file, written in encoding E. As in
// Prosody, a secret is the file's trimmed text (mod_keystore's default
// encoding "raw"), so the default base64 output is used as it is written;
// an OTP seed is base32 text, declared encoding = "base32". Text encodings
// end with a newline (the keystore trims it); raw writes the bytes alone.
func runGenkey(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("genkey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("bytes", 32, fmt.Sprintf("key size in bytes, 1 to %d", maxGenkeyBytes))
	enc := fs.String("encoding", "base64", "how the bytes are written: raw, base32, base64 or hex; a secret's file is used as its text (mod_keystore encoding \"raw\", the default), an OTP seed's is base32 (encoding \"base32\")")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: xtokend genkey [-bytes N] [-encoding raw|base32|base64|hex] > priv/key")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if *n < 1 || *n > maxGenkeyBytes {
		fmt.Fprintf(stderr, "xtokend: genkey: -bytes %d: must be 1 to %d\n", *n, maxGenkeyBytes)
		return exitUsage
	}
	var encode func([]byte) string
	switch *enc {
	case "raw":
	case "base32":
		encode = base32.StdEncoding.EncodeToString
	case "base64":
		encode = base64.StdEncoding.EncodeToString
	case "hex":
		encode = hex.EncodeToString
	default:
		fmt.Fprintf(stderr, "xtokend: genkey: -encoding %q: must be raw, base32, base64 or hex\n", *enc)
		return exitUsage
	}
	key, err := randomKey(*n, encode == nil)
	if err != nil {
		fmt.Fprintf(stderr, "xtokend: genkey: %v\n", err)
		return exitFailed
	}
	defer clear(key)
	if encode == nil {
		_, err = stdout.Write(key)
	} else {
		_, err = io.WriteString(stdout, encode(key)+"\n")
	}
	if err != nil {
		fmt.Fprintf(stderr, "xtokend: genkey: write: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// randomKey draws n bytes from crypto/rand. For a raw key the first and
// last bytes are drawn again while they are ASCII whitespace: the keystore
// trims a key file's surrounding whitespace, and would otherwise read a
// shorter key than the one written (and than other programs read).
func randomKey(n int, raw bool) ([]byte, error) {
	key := make([]byte, n)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if raw {
		for _, i := range []int{0, n - 1} {
			for strings.IndexByte(asciiSpace, key[i]) >= 0 {
				if _, err := rand.Read(key[i : i+1]); err != nil {
					return nil, err
				}
			}
		}
	}
	return key, nil
}

// asciiSpace is what the keystore trims.
const asciiSpace = " \t\n\v\f\r"
