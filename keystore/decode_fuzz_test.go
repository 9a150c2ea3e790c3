package keystore

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"testing"
)

// FuzzDecode feeds arbitrary key file contents to every encoding: decode
// never panics, never returns an empty key without an error, and reads back
// what the standard encoders write.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "secret", "MZXW6===", "mzxw6", "Zm9vYg==", "-_8", "00ff", "zz", "====", " \\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, enc := range []string{"", EncodingRaw, EncodingBase32, EncodingBase64, EncodingHex} {
			out, err := decode(enc, bytes.Trim(data, asciiSpace))
			if err == nil && out == nil && len(bytes.Trim(data, asciiSpace)) > 0 {
				t.Fatalf("%s: nil key without error", enc)
			}
			// The error is fixed text: it cannot quote the value.
			if err != nil && err.Error() != "value does not decode as "+enc {
				t.Fatalf("%s: error %q", enc, err)
			}
		}
		if len(data) == 0 {
			return
		}
		for enc, s := range map[string]string{
			EncodingBase32: base32.StdEncoding.EncodeToString(data),
			EncodingBase64: base64.StdEncoding.EncodeToString(data),
			EncodingHex:    hex.EncodeToString(data),
		} {
			out, err := decode(enc, []byte(s))
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("%s round trip: %x -> %q -> %x, %v", enc, data, s, out, err)
			}
		}
	})
}
