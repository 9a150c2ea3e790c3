package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"os"
	"strings"
	"time"
)

// The tool mints its own X-TOKEN tokens (SPEC.md section 3) from the host's key files, so
// that minting costs the server nothing and does not depend on its admin socket:
//
//	token = OTP || NONCE || " " || base64(HMAC-SHA256(access_secret, OTP || NONCE || node "@" host))
//
// OTP is RFC 6238 TOTP (HMAC-SHA1) of otp_seed; NONCE is a fresh run of decimal digits
// from crypto/rand for every login, so the server's replay cache never refuses one.

// tokenKeys are one host's two keys.
type tokenKeys struct {
	secret []byte // access_secret, raw
	seed   []byte // otp_seed, decoded
	digits int    // OTP digits
	period int64  // OTP period, seconds
	nonce  int    // nonce digits
}

// loadTokenKeys reads an access_secret file (raw) and an otp_seed file (base32), trimmed of
// surrounding whitespace as the server does.
func loadTokenKeys(secretPath, seedPath string, digits, period, nonce int) (*tokenKeys, error) {
	secret, err := os.ReadFile(secretPath)
	if err != nil {
		return nil, fmt.Errorf("token: access secret: %w", err)
	}
	seedText, err := os.ReadFile(seedPath)
	if err != nil {
		return nil, fmt.Errorf("token: otp seed: %w", err)
	}
	seed, err := decodeBase32(strings.TrimSpace(string(seedText)))
	if err != nil {
		return nil, fmt.Errorf("token: otp seed %s: not base32", seedPath)
	}
	k := &tokenKeys{secret: []byte(strings.TrimSpace(string(secret))), seed: seed, digits: digits, period: int64(period), nonce: nonce}
	if len(k.secret) == 0 || len(k.seed) == 0 {
		return nil, fmt.Errorf("token: empty key file")
	}
	return k, nil
}

// decodeBase32 accepts the standard alphabet, upper or lower case, with or without padding.
func decodeBase32(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(s, "="))
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

// minter mints tokens for one worker; it is not safe for concurrent use.
type minter struct {
	keys    *tokenKeys
	mac     hash.Hash // HMAC-SHA256 with access_secret
	counter int64     // TOTP counter of otp
	otp     []byte
	random  *bufio.Reader
	buf     []byte
	sum     []byte
}

func newMinter(k *tokenKeys) *minter {
	return &minter{
		keys:    k,
		mac:     hmac.New(sha256.New, k.secret),
		counter: -1,
		random:  bufio.NewReaderSize(rand.Reader, 4096),
	}
}

// totp is RFC 6238 with HMAC-SHA1 for the given counter.
func totp(seed []byte, counter int64, digits int) []byte {
	mac := hmac.New(sha1.New, seed)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	out := make([]byte, digits)
	for i := digits - 1; i >= 0; i-- {
		out[i] = byte('0' + code%10)
		code /= 10
	}
	return out
}

// appendNonce appends n decimal digits drawn uniformly from crypto/rand.
func (m *minter) appendNonce(dst []byte, n int) ([]byte, error) {
	for n > 0 {
		b, err := m.random.ReadByte()
		if err != nil {
			return dst, err
		}
		if b >= 250 { // rejection sampling keeps the digits uniform
			continue
		}
		dst = append(dst, '0'+b%10)
		n--
	}
	return dst, nil
}

// token returns the token for node@host at time now, with the given nonce (a fresh one
// when nonce is nil). The result aliases the minter's buffer until the next call.
func (m *minter) token(node, host string, now time.Time, nonce []byte) ([]byte, error) {
	counter := now.Unix() / m.keys.period
	if counter != m.counter {
		m.otp = totp(m.keys.seed, counter, m.keys.digits)
		m.counter = counter
	}
	buf := append(m.buf[:0], m.otp...)
	if nonce != nil {
		buf = append(buf, nonce...)
	} else {
		var err error
		if buf, err = m.appendNonce(buf, m.keys.nonce); err != nil {
			return nil, fmt.Errorf("token: nonce: %w", err)
		}
	}
	m.mac.Reset()
	m.mac.Write(buf)
	m.mac.Write([]byte(node))
	m.mac.Write([]byte{'@'})
	m.mac.Write([]byte(host))
	m.sum = m.mac.Sum(m.sum[:0])
	buf = append(buf, ' ')
	buf = base64.StdEncoding.AppendEncode(buf, m.sum)
	m.buf = buf
	return buf, nil
}
