package sasl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"
)

// Verifier mints and verifies X-TOKEN tokens for one host. It reads the
// host's keys once; a key reload builds a new Verifier (sharing the replay
// cache). It is safe for concurrent use.
type Verifier struct {
	host     string // as configured: what the signature covers
	domain   string // host as a JID domainpart, for the authzid
	atHost   []byte // "@" + host, the end of the signed string
	opts     Options
	period   int64
	replay   *ReplayCache
	shared   SharedReplay // a cluster's replay check, in place of replay
	hooks    VerifierHooks
	states   sync.Pool    // *macState
	seeds    []*otpSeed   // every accepted version of the OTP seed; [0] mints
	secrets  int          // accepted versions of the access secret; macState.sigs[0] mints
	computed atomic.Int64 // TOTP codes computed so far, for tests
	otpBytes int          // len(otpCodes.codes)
}

// otpSeed is one version of the OTP seed and the codes of its latest time
// step.
type otpSeed struct {
	totp   totpKey                  // for pquerna/otp
	window atomic.Pointer[otpCodes] // the OTP codes around the latest time step
	refill sync.Mutex               // one computation of a new step's codes at a time
}

// macState is the per-verification scratch: the signature's HMACs, one per
// accepted version of the access secret, keyed once and reset between uses,
// and buffers, so that a verification allocates nothing here.
type macState struct {
	sigs    []hash.Hash       // HMAC-SHA256 keyed with each version of the access secret
	scratch [sha256.Size]byte // an HMAC-SHA256 sum
	node    []byte            // a username that normalization changed
	msg     []byte            // the signed string, OTP || NONCE || node "@" host
}

// otpCodes are the codes of the time steps step-skew .. step+skew, one after
// the other, otp_digits bytes each. Steps before the epoch get 0xff bytes,
// which match no digit.
type otpCodes struct {
	step  int64
	codes []byte
}

// NewVerifier reads the host's keys named by opts (SecretKey and SeedKey) once
// and prepares them. replay may be nil, which like opts.ReplayProtection =
// false turns replay protection off.
func NewVerifier(host string, keys Keys, opts Options, replay *ReplayCache) (*Verifier, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("sasl: host %q: %w", host, err)
	}
	j, err := jid.New("", host, "")
	if err != nil || host == "" {
		return nil, fmt.Errorf("sasl: host %q is not a valid domain", host)
	}
	secrets, err := readVersions(keys, host, opts.SecretKey)
	if err != nil {
		return nil, err
	}
	seeds, err := readVersions(keys, host, opts.SeedKey)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		host:     host,
		domain:   j.Domainpart(),
		atHost:   append([]byte("@"), host...),
		opts:     opts,
		period:   int64(opts.OTPPeriod),
		secrets:  len(secrets),
		otpBytes: (2*opts.OTPSkew + 1) * opts.OTPDigits,
	}
	for _, seed := range seeds {
		v.seeds = append(v.seeds, &otpSeed{totp: newTOTPKey(seed, opts.OTPDigits, opts.OTPPeriod)})
		if err := v.seeds[len(v.seeds)-1].totp.code(0, make([]byte, opts.OTPDigits)); err != nil {
			return nil, fmt.Errorf("sasl: host %q: key %q: %w", host, opts.SeedKey, err)
		}
	}
	if opts.ReplayProtection {
		v.replay = replay
	}
	v.states.New = func() any {
		st := &macState{sigs: make([]hash.Hash, len(secrets))}
		for i, secret := range secrets {
			st.sigs[i] = hmac.New(sha256.New, secret)
		}
		return st
	}
	return v, nil
}

// Host returns the virtual host the verifier serves.
func (v *Verifier) Host() string { return v.host }

// Options returns the verifier's options.
func (v *Verifier) Options() Options { return v.opts }

// step returns the TOTP time step of now.
func (v *Verifier) step(now time.Time) (int64, bool) {
	t := now.Unix()
	if t < 0 {
		return 0, false
	}
	return t / v.period, true
}

// expiry is when a token whose OTP is of step s stops verifying.
func (v *Verifier) expiry(s int64) int64 {
	return (s + int64(v.opts.OTPSkew) + 1) * v.period
}

// Mint returns a fresh token for node (a username, normalized like a login's)
// at now, and the time it stops verifying. The nonce comes from crypto/rand;
// with nonce_digits 0 it has Prosody's 32 digits.
func (v *Verifier) Mint(node string, now time.Time) (token string, expiresAt time.Time, err error) {
	n, e := normalizeUsername(nil, []byte(node))
	if e != nil {
		return "", time.Time{}, e
	}
	s, ok := v.step(now)
	if !ok {
		return "", time.Time{}, errBadTime
	}
	nonceDigits := v.opts.NonceDigits
	if nonceDigits == 0 {
		nonceDigits = 32
	}
	digits := make([]byte, v.opts.OTPDigits+nonceDigits)
	// The code of step s is the middle one of the window around s, shared
	// with the logins of that step.
	d, skew := v.opts.OTPDigits, v.opts.OTPSkew
	otp := v.codes(s)[skew*d : (skew+1)*d]
	if otp[0] == 0xff {
		return "", time.Time{}, errTOTP
	}
	copy(digits, otp)
	st := v.states.Get().(*macState)
	defer v.states.Put(st)
	if err := randomDigits(digits[v.opts.OTPDigits:]); err != nil {
		return "", time.Time{}, err
	}
	mac := st.sigs[0] // the version in force signs
	mac.Reset()
	mac.Write(digits)
	mac.Write(n)
	mac.Write(v.atHost)
	sig := mac.Sum(st.scratch[:0])
	b := make([]byte, 0, len(digits)+1+sigLen)
	b = append(b, digits...)
	b = append(b, ' ')
	b = base64.StdEncoding.AppendEncode(b, sig)
	return string(b), time.Unix(v.expiry(s), 0).UTC(), nil
}

// randomDigits fills dst with uniformly random decimal digits from crypto/rand.
func randomDigits(dst []byte) error {
	var buf [64]byte
	for i := 0; i < len(dst); {
		if _, err := rand.Read(buf[:]); err != nil {
			return errors.New("sasl: reading random bytes: " + err.Error())
		}
		for _, b := range buf {
			if b >= 250 { // 250 = 25*10: keep the digits uniform
				continue
			}
			dst[i] = '0' + b%10
			i++
			if i == len(dst) {
				break
			}
		}
	}
	return nil
}

// Verify checks one SASL initial response (already base64-decoded:
// authzid NUL authcid NUL token) at time now and returns the authenticated
// node (the normalized username, a JID localpart). A failure is an *Error
// whose condition is the one to send to the client.
//
// The checks run cheapest first, and the token is recorded in the replay
// cache only once its OTP and signature are good, so that invalid tokens
// cannot fill the cache. ctx bounds the replay check of a verifier made by
// NewSharedVerifier (a round trip to other cluster nodes); a single-node
// verifier never blocks.
func (v *Verifier) Verify(ctx context.Context, response []byte, now time.Time) (node string, err error) {
	authzid, authcid, token, e := splitResponse(response)
	if e != nil {
		return "", e
	}
	st := v.states.Get().(*macState)
	defer v.states.Put(st)
	n, e := normalizeUsername(st.node[:0], authcid)
	if e != nil {
		return "", e
	}
	if cap(n) > cap(st.node) {
		st.node = n[:0]
	}
	digits, sig, e := parseToken(token, v.opts.OTPDigits, v.opts.NonceDigits)
	if e != nil {
		return "", e
	}
	if len(authzid) > 0 && !v.isBareJID(authzid, n) {
		return "", errAuthzid
	}
	s, ok := v.step(now)
	if !ok {
		return "", errBadTime
	}

	// Both checks always run in full, over every accepted version of each
	// key, and compare in constant time, so the time taken says nothing
	// about which part of a forged token was wrong, or which version it
	// named. A wrong key costs one HMAC per accepted secret version; the
	// OTP codes of every seed version are cached per time step.
	d := v.opts.OTPDigits
	otp := digits[:d]
	otpOK, matched, otpVersion := 0, 0, 0
	for k, seed := range v.seeds {
		codes := v.seedCodes(seed, s)
		for i := 0; i*d < len(codes); i++ {
			eq := subtle.ConstantTimeCompare(codes[i*d:(i+1)*d], otp)
			otpOK |= eq
			matched = subtle.ConstantTimeSelect(eq, i, matched)
			otpVersion = subtle.ConstantTimeSelect(eq, k, otpVersion)
		}
	}
	sigOK, sigVersion := 0, 0
	caseMapped := !bytes.Equal(n, authcid)
	for k := range v.secrets {
		eq := v.signed(st, k, digits, n, &sig)
		if caseMapped {
			// The case rule: a token signed for the username exactly as the
			// client sent it logs in too (as the case-mapped node), so that an
			// application that signs the name its user typed needs no PRECIS.
			// Both signatures are always computed, one HMAC more only for a
			// username that case mapping changed.
			eq |= v.signed(st, k, digits, authcid, &sig)
		}
		sigOK |= eq
		sigVersion = subtle.ConstantTimeSelect(eq, k, sigVersion)
	}
	switch {
	case sigOK != 1:
		return "", errSignature
	case otpOK != 1:
		return "", errOTP
	}

	step := s - int64(v.opts.OTPSkew) + int64(matched)
	if v.hooks.Revoked != nil && v.hooks.Revoked(v.host, n, time.Unix(step*v.period, 0)) {
		return "", errRevoked
	}
	if v.replay != nil {
		if e := v.replay.use(replayKeyOf(&sig), step*v.period, v.expiry(step), now.Unix()); e != nil {
			return "", e
		}
	} else if v.shared != nil {
		node, err := v.useShared(ctx, string(n), [replayIDSize]byte(sig[:replayIDSize]), v.expiry(step))
		if err == nil {
			v.acceptedVersion(otpVersion | sigVersion)
		}
		return node, err
	}
	v.acceptedVersion(otpVersion | sigVersion)
	return string(n), nil
}

// signed reports (1 or 0, in constant time) whether sig is the HMAC-SHA256
// of digits || node "@" host under the given version of the access secret.
func (v *Verifier) signed(st *macState, version int, digits, node []byte, sig *[32]byte) int {
	// One Write of the whole signed string: each Write has a cost of its own.
	st.msg = append(append(append(st.msg[:0], digits...), node...), v.atHost...)
	mac := st.sigs[version]
	mac.Reset()
	mac.Write(st.msg)
	return subtle.ConstantTimeCompare(mac.Sum(st.scratch[:0]), sig[:])
}

// codes returns the OTP codes of the windows accepted at step s under the
// seed in force (the one tokens are minted with).
func (v *Verifier) codes(s int64) []byte { return v.seedCodes(v.seeds[0], s) }

// seedCodes returns the OTP codes of one seed version for the windows
// accepted at step s. They are computed once per step and shared, so that a
// verification costs one HMAC (SHA-256) instead of 2*otp_skew+2; a new step
// reuses the codes it shares with the previous one, so each step's code is
// computed once. The slice is shared: read it only.
func (v *Verifier) seedCodes(seed *otpSeed, s int64) []byte {
	if w := seed.window.Load(); w != nil && w.step == s {
		return w.codes
	}
	seed.refill.Lock()
	defer seed.refill.Unlock()
	w := seed.window.Load()
	if w != nil && w.step == s {
		return w.codes // another caller computed them meanwhile
	}
	// The clock moved on (or a caller's clock is off, which swaps the
	// window back and forth at the cost of a computation, never a wrong
	// answer).
	d, skew := int64(v.opts.OTPDigits), int64(v.opts.OTPSkew)
	nw := &otpCodes{step: s, codes: make([]byte, v.otpBytes)}
	for i := int64(0); i <= 2*skew; i++ {
		code := nw.codes[i*d : (i+1)*d]
		c := s - skew + i
		if w != nil && c >= w.step-skew && c <= w.step+skew {
			j := c - (w.step - skew)
			copy(code, w.codes[j*d:(j+1)*d])
			continue
		}
		if c < 0 || seed.totp.code(c, code) != nil {
			for j := range code {
				code[j] = 0xff // matches no digit
			}
			continue
		}
		v.computed.Add(1)
	}
	seed.window.Store(nw)
	return nw.codes
}

// isBareJID reports whether authzid is the bare JID node@host. The common
// case, the exact bytes, needs no parsing.
func (v *Verifier) isBareJID(authzid, node []byte) bool {
	if len(authzid) == len(node)+len(v.atHost) && bytes.HasPrefix(authzid, node) && bytes.HasSuffix(authzid, v.atHost) {
		return true
	}
	j, err := jid.Parse(string(authzid))
	if err != nil {
		return false
	}
	return j.Resourcepart() == "" && j.Localpart() == string(node) && j.Domainpart() == v.domain
}

// Mint returns a fresh token for node at host, with the keys named by opts.
// It is Verifier.Mint for a caller that mints once; a server keeps a Verifier.
func Mint(keys Keys, opts Options, node, host string, now time.Time) (token string, expiresAt time.Time, err error) {
	v, err := NewVerifier(host, keys, opts, nil)
	if err != nil {
		return "", time.Time{}, err
	}
	return v.Mint(node, now)
}

// Verify checks one token for username at host, with the keys named by opts,
// and returns the node it logs in as. It has no replay cache, so a token
// passes it as often as it is asked: it is for tools that inspect a token. A
// server keeps a Verifier with a ReplayCache.
func Verify(ctx context.Context, keys Keys, opts Options, username, token, host string, now time.Time) (node string, err error) {
	v, err := NewVerifier(host, keys, opts, nil)
	if err != nil {
		return "", err
	}
	resp := make([]byte, 0, len(username)+len(token)+2)
	resp = append(append(append(append(resp, 0), username...), 0), token...)
	return v.Verify(ctx, resp, now)
}
