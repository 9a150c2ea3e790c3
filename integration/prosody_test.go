package integration

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// prosodyMinter mints tokens the way Prosody's mod_auth_token and its issuers do (SPEC.md section 3),
// written here from the format alone and sharing no code with package sasl: a token it makes is one
// the server never saw minted, such as one from the past.
type prosodyMinter struct {
	secret []byte // access_secret, raw: Prosody's token_secret
	seed   string // otp_seed, base32: Prosody's otp_seed
	digits int    // OTP digits
	period int64  // OTP period, seconds
}

// token returns OTP || NONCE || " " || base64(HMAC-SHA256(secret, OTP || NONCE || node@host)).
func (p prosodyMinter) token(node, host string, at time.Time, nonce string) (string, error) {
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(strings.ToUpper(p.seed), "="))
	if err != nil {
		return "", fmt.Errorf("otp_seed: %w", err)
	}
	otp := totp(seed, at.Unix()/p.period, p.digits)
	mac := hmac.New(sha256.New, p.secret)
	mac.Write([]byte(otp + nonce + node + "@" + host))
	return otp + nonce + " " + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// totp is RFC 4226's HOTP of counter with HMAC-SHA1, as RFC 6238 uses it.
func totp(key []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, code%mod)
}

// randomNonce returns n decimal digits from crypto/rand, as SPEC.md asks of issuers.
func randomNonce(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

// TestProsodyMinter checks the tests' own minter against the shared vectors (made by an
// independent implementation), so that a refused expired token means the server refused it,
// not that the test minted garbage.
func TestProsodyMinter(t *testing.T) {
	m := prosodyMinter{secret: []byte("JYXEX4IQOEYFYQ2S3MC5P4ZT4SDHYEA7"), seed: "XVGR73KMZH2M4XMY", digits: 8, period: 30}
	tests := []struct {
		node, host string
		unix       int64
		nonce      string
		want       string
	}{
		{"alice", "localhost", 1700000000, "01234567890123456789012345678901",
			"8095230901234567890123456789012345678901 JOcGNtEdSR10Co+NWM56/lePM/9vRPRmxNLW1UKLpac="},
		{"bob", "first.com", 1111111109, "99999999999999999999999999999999",
			"9817873799999999999999999999999999999999 rQYSApLLmKXndsh3UBtZBiPOaF9eToR+CEc8gMNwXgE="},
		{"1alice", "second.com", 2000000000, "00000000000000000000000000000000",
			"2539920100000000000000000000000000000000 LeItXtg4jmdyjvM3yi7OjABIu8ETuJGyzlG7ABet3jM="},
	}
	for _, tc := range tests {
		got, err := m.token(tc.node, tc.host, time.Unix(tc.unix, 0), tc.nonce)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("token(%s@%s, %d) = %q, want %q", tc.node, tc.host, tc.unix, got, tc.want)
		}
	}
	// RFC 6238 appendix B, SHA-1, 8 digits.
	for unix, want := range map[int64]string{59: "94287082", 1111111109: "07081804", 20000000000: "65353130"} {
		if got := totp([]byte("12345678901234567890"), unix/30, 8); got != want {
			t.Errorf("totp(%d) = %s, want %s", unix, got, want)
		}
	}
}
