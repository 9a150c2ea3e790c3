package sasl

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// vectors is /work/shared/testdata/xtoken-vectors.json, copied into testdata.
type vectors struct {
	Seed      string `json:"otp_seed_base32"`
	Secret    string `json:"access_secret_raw"`
	OTPDigits int    `json:"otp_digits"`
	OTPPeriod int    `json:"otp_period"`
	Tokens    []struct {
		Node     string `json:"node"`
		Host     string `json:"host"`
		UnixTime int64  `json:"unix_time"`
		Nonce    string `json:"nonce"`
		Token    string `json:"token"`
	} `json:"tokens"`
	RFC6238 struct {
		Key     string `json:"key_ascii"`
		Vectors []struct {
			UnixTime int64  `json:"unix_time"`
			OTP      string `json:"otp"`
		} `json:"vectors"`
	} `json:"rfc6238_sha1_8digit"`
}

func loadVectors(t testing.TB) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/xtoken-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func vectorKeys(t testing.TB, v vectors) KeyMap {
	t.Helper()
	seed, err := base32.StdEncoding.DecodeString(v.Seed)
	if err != nil {
		t.Fatal(err)
	}
	return KeyMap{"access_secret": []byte(v.Secret), "otp_seed": seed}
}

func TestVectorsVerify(t *testing.T) {
	v := loadVectors(t)
	keys := vectorKeys(t, v)
	opts := DefaultOptions()
	opts.OTPDigits, opts.OTPPeriod = v.OTPDigits, v.OTPPeriod
	replay := NewReplayCache(100)
	for _, tc := range v.Tokens {
		t.Run(tc.Node+"@"+tc.Host, func(t *testing.T) {
			ver, err := NewVerifier(tc.Host, keys, opts, replay)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(tc.UnixTime, 0)
			node, err := ver.Verify(context.Background(), []byte("\x00"+tc.Node+"\x00"+tc.Token), now)
			if err != nil || node != tc.Node {
				t.Fatalf("Verify = %q, %v; want %q", node, err, tc.Node)
			}
			if !strings.Contains(tc.Token, tc.Nonce+" ") {
				t.Fatalf("vector nonce %q not in token", tc.Nonce)
			}
			// The same token a second time is a replay.
			_, err = ver.Verify(context.Background(), []byte("\x00"+tc.Node+"\x00"+tc.Token), now)
			if cond(err) != NotAuthorized {
				t.Fatalf("replay: %v, want not-authorized", err)
			}
		})
	}
}

func TestRFC6238(t *testing.T) {
	v := loadVectors(t)
	key := newTOTPKey([]byte(v.RFC6238.Key), 8, 30)
	for _, tc := range v.RFC6238.Vectors {
		got := make([]byte, 8)
		if err := key.code(tc.UnixTime/30, got); err != nil || string(got) != tc.OTP {
			t.Errorf("TOTP(%d) = %s, %v; want %s", tc.UnixTime, got, err, tc.OTP)
		}
	}
	// RFC 4226 appendix D: 6 digits, counters 0..9 (TOTP of period 1 at time
	// c is HOTP of counter c).
	hotp := newTOTPKey([]byte(v.RFC6238.Key), 6, 1)
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for c, w := range want {
		got := make([]byte, 6)
		if err := hotp.code(int64(c), got); err != nil || string(got) != w {
			t.Errorf("HOTP(%d) = %s, %v; want %s", c, got, err, w)
		}
	}
	// 10 digits, the most Options allows, and seeds of every length up to
	// a block and beyond (the base32 text pquerna/otp takes pads them).
	ten := make([]byte, 10)
	if err := newTOTPKey([]byte(v.RFC6238.Key), 10, 30).code(59/30, ten); err != nil || string(ten) != "1094287082" {
		t.Errorf("10-digit TOTP(59) = %s, %v", ten, err)
	}
	for n := 1; n <= 70; n++ {
		seed := []byte(strings.Repeat("k", n))
		if err := newTOTPKey(seed, 8, 30).code(1, make([]byte, 8)); err != nil {
			t.Errorf("seed of %d bytes: %v", n, err)
		}
	}
}

// TestTOTPOncePerStep: the codes of a time step are computed once, however
// many logins use them, and a new step computes only its new code.
func TestTOTPOncePerStep(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	v := newTestVerifier(t, "localhost", DefaultOptions(), NewReplayCache(1000))
	steps := []struct {
		at   time.Time
		want int64 // codes computed so far
	}{
		{now, 3}, // steps -1, 0, +1
		{now.Add(10 * time.Second), 3},
		{now.Add(30 * time.Second), 4}, // one new step
		{now.Add(65 * time.Second), 5},
		{now.Add(300 * time.Second), 8}, // a jump: all three anew
	}
	for _, s := range steps {
		for i := 0; i < 5; i++ {
			if _, err := v.Verify(context.Background(), []byte("\x00alice\x00"+mint(t, v, "alice", s.at)), s.at); err != nil {
				t.Fatal(err)
			}
		}
		if got := v.computed.Load(); got != s.want {
			t.Fatalf("at %v: %d codes computed, want %d", s.at, got, s.want)
		}
	}
}

func cond(err error) Condition {
	var e *Error
	if errors.As(err, &e) {
		return e.Condition
	}
	return ""
}

// testKeys are two hosts' keys.
var testKeys = map[string]KeyMap{
	"localhost": {"access_secret": []byte("secret-of-localhost"), "otp_seed": []byte("seed-of-localhost")},
	"first.com": {"access_secret": []byte("secret-of-first.com"), "otp_seed": []byte("seed-of-first.com")},
}

func newTestVerifier(t testing.TB, host string, opts Options, replay *ReplayCache) *Verifier {
	t.Helper()
	v, err := NewVerifier(host, testKeys[host], opts, replay)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mint(t testing.TB, v *Verifier, node string, now time.Time) string {
	t.Helper()
	tok, _, err := v.Mint(node, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0) // a period boundary: 1.8e9 / 30
	opts := DefaultOptions()
	legacy := DefaultOptions()
	legacy.NonceDigits = 0
	local := newTestVerifier(t, "localhost", opts, nil)
	first := newTestVerifier(t, "first.com", opts, nil)
	legacyLocal := newTestVerifier(t, "localhost", legacy, nil)

	alice := mint(t, local, "alice", now)
	oneAlice := mint(t, local, "1alice", now)
	legacyOneAlice := mint(t, legacyLocal, "1alice", now)
	digits, sig, _ := strings.Cut(alice, " ")
	shifted := oneAlice[:40] + "1 " + oneAlice[41:] // "1alice" -> "alice": the 1 joins the nonce
	legacyShifted := legacyOneAlice[:40] + "1 " + legacyOneAlice[41:]

	tests := []struct {
		name     string
		v        *Verifier
		response string
		at       time.Time
		node     string
		cond     Condition
	}{
		{"valid", local, "\x00alice\x00" + alice, now, "alice", ""},
		{"valid, username case mapped", local, "\x00Alice\x00" + alice, now, "alice", ""},
		{"valid, authzid bare JID", local, "alice@localhost\x00alice\x00" + alice, now, "alice", ""},
		{"valid, authzid needs normalizing", local, "Alice@LocalHost\x00alice\x00" + alice, now, "alice", ""},
		{"valid, one window later", local, "\x00alice\x00" + alice, now.Add(59 * time.Second), "alice", ""},
		{"valid, one window earlier", local, "\x00alice\x00" + alice, now.Add(-30 * time.Second), "alice", ""},
		{"expired OTP", local, "\x00alice\x00" + alice, now.Add(60 * time.Second), "", NotAuthorized},
		{"future OTP", local, "\x00alice\x00" + alice, now.Add(-31 * time.Second), "", NotAuthorized},
		{"wrong host", first, "\x00alice\x00" + alice, now, "", NotAuthorized},
		{"wrong user", local, "\x00bob\x00" + alice, now, "", NotAuthorized},
		{"wrong OTP", local, "\x00alice\x00" + flipDigit(alice, 0), now, "", NotAuthorized},
		{"wrong nonce", local, "\x00alice\x00" + flipDigit(alice, 20), now, "", NotAuthorized},
		{"wrong signature", local, "\x00alice\x00" + digits + " " + flipB64(sig), now, "", NotAuthorized},
		{"digit shifted", local, "\x00alice\x00" + shifted, now, "", MalformedRequest},
		{"digit shifted, legacy any-length nonce (the known risk)", legacyLocal, "\x00alice\x00" + legacyShifted, now, "alice", ""},
		{"short nonce", local, "\x00alice\x00" + digits[1:] + " " + sig, now, "", MalformedRequest},
		{"long nonce", local, "\x00alice\x00" + digits + "0 " + sig, now, "", MalformedRequest},
		{"OTP only", legacyLocal, "\x00alice\x00" + digits[:7] + " " + sig, now, "", MalformedRequest},
		{"bad base64", local, "\x00alice\x00" + digits + " " + sig[:40] + "!!!=", now, "", MalformedRequest},
		{"unpadded base64", local, "\x00alice\x00" + digits + " " + sig[:43], now, "", MalformedRequest},
		{"non-canonical base64", local, "\x00alice\x00" + digits + " " + sig[:42] + "B=", now, "", MalformedRequest},
		{"no space", local, "\x00alice\x00" + digits + sig, now, "", MalformedRequest},
		{"two spaces", local, "\x00alice\x00" + digits + "  " + sig, now, "", MalformedRequest},
		{"letters in digits", local, "\x00alice\x00" + "a" + digits[1:] + " " + sig, now, "", MalformedRequest},
		{"two fields", local, "alice\x00" + alice, now, "", MalformedRequest},
		{"one field", local, alice, now, "", MalformedRequest},
		{"four fields", local, "\x00alice\x00" + alice + "\x00", now, "", MalformedRequest},
		{"empty", local, "", now, "", MalformedRequest},
		{"oversized token", local, "\x00alice\x00" + strings.Repeat("1", 1000) + " " + sig, now, "", MalformedRequest},
		{"garbage", local, "\x00\xff\xfe\x00\x01\x02", now, "", MalformedRequest},
		{"garbage token", local, "\x00alice\x00\xff\xfe\x01", now, "", MalformedRequest},
		{"empty username", local, "\x00\x00" + alice, now, "", MalformedRequest},
		{"username with @", local, "\x00alice@localhost\x00" + alice, now, "", MalformedRequest},
		{"username with space", local, "\x00al ice\x00" + alice, now, "", MalformedRequest},
		{"username not UTF-8", local, "\x00al\xffice\x00" + alice, now, "", MalformedRequest},
		{"username too long", local, "\x00" + strings.Repeat("a", 1024) + "\x00" + alice, now, "", MalformedRequest},
		{"authzid other user", local, "bob@localhost\x00alice\x00" + alice, now, "", InvalidAuthzid},
		{"authzid other host", local, "alice@first.com\x00alice\x00" + alice, now, "", InvalidAuthzid},
		{"authzid full JID", local, "alice@localhost/phone\x00alice\x00" + alice, now, "", InvalidAuthzid},
		{"authzid domain only", local, "localhost\x00alice\x00" + alice, now, "", InvalidAuthzid},
		{"authzid invalid", local, "@@\x00alice\x00" + alice, now, "", InvalidAuthzid},
		{"before the epoch", local, "\x00alice\x00" + alice, time.Unix(-100, 0), "", NotAuthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			node, err := tc.v.Verify(context.Background(), []byte(tc.response), tc.at)
			if node != tc.node || cond(err) != tc.cond {
				t.Fatalf("Verify = %q, %v; want %q, %q", node, err, tc.node, tc.cond)
			}
			if err != nil {
				msg := err.Error()
				if !strings.HasPrefix(msg, "sasl: "+string(tc.cond)+": ") {
					t.Errorf("error text %q does not start with its condition", msg)
				}
				for _, secret := range []string{alice, digits, digits[:8], digits[8:], sig, "secret-of", "seed-of"} {
					if strings.Contains(msg, secret) {
						t.Errorf("error text %q holds a secret", msg)
					}
				}
			}
		})
	}
}

// flipDigit changes the i-th digit of the token.
func flipDigit(token string, i int) string {
	b := []byte(token)
	b[i] = '0' + (b[i]-'0'+1)%10
	return string(b)
}

// flipB64 changes the first character of a base64 string to another valid one.
func flipB64(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestReplay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	replay := NewReplayCache(100)
	local := newTestVerifier(t, "localhost", DefaultOptions(), replay)
	first := newTestVerifier(t, "first.com", DefaultOptions(), replay)

	a := "\x00alice\x00" + mint(t, local, "alice", now)
	b := "\x00alice\x00" + mint(t, local, "alice", now.Add(30*time.Second)) // the next window
	at := now.Add(30 * time.Second)                                         // both verify here

	steps := []struct {
		v        *Verifier
		response string
		at       time.Time
		cond     Condition
	}{
		{local, a, at, ""},
		{local, b, at, ""},
		{local, a, at, NotAuthorized}, // alternating replay: the original keeps one OTP per user
		{local, b, at, NotAuthorized},
		{local, a, now, NotAuthorized},                       // earlier clock
		{local, "\x00ALICE\x00" + a[7:], at, NotAuthorized},  // same node, other spelling
		{local, b, now.Add(89 * time.Second), NotAuthorized}, // b's last second
	}
	for i, s := range steps {
		if _, err := s.v.Verify(context.Background(), []byte(s.response), s.at); cond(err) != s.cond {
			t.Fatalf("step %d: %v, want %q", i, err, s.cond)
		}
	}
	// Another host with the same node shares the cache but not the entries.
	if _, err := first.Verify(context.Background(), []byte("\x00alice\x00"+mint(t, first, "alice", now)), now); err != nil {
		t.Fatal(err)
	}
	// b and first.com's token; a expired (at now+60) and went when b was
	// tried again at now+89.
	if got := replay.Len(); got != 2 {
		t.Fatalf("cache holds %d, want 2", got)
	}
	// Once a's window has passed (now+60s: a's expiry), it is dropped.
	c := "\x00alice\x00" + mint(t, local, "alice", now.Add(90*time.Second))
	if _, err := local.Verify(context.Background(), []byte(c), now.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	replay.sweep(now.Add(90 * time.Second).Unix()) // expired entries of other shards go lazily
	if got := replay.Len(); got != 1 {
		t.Fatalf("after expiry the cache holds %d, want 1 (c)", got)
	}
}

func TestReplayFull(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	replay := NewReplayCache(2)
	v := newTestVerifier(t, "localhost", DefaultOptions(), replay)
	for i, want := range []Condition{"", "", TemporaryAuthFailure, TemporaryAuthFailure} {
		_, err := v.Verify(context.Background(), []byte("\x00alice\x00"+mint(t, v, "alice", now)), now)
		if cond(err) != want {
			t.Fatalf("login %d: %v, want %q", i, err, want)
		}
	}
	// A refused token was not recorded and still works once there is room.
	later := now.Add(60 * time.Second)
	tok := "\x00alice\x00" + mint(t, v, "alice", later)
	if _, err := v.Verify(context.Background(), []byte(tok), later); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if _, err := v.Verify(context.Background(), []byte(tok), later); cond(err) != NotAuthorized {
		t.Fatalf("replay after refill: %v", err)
	}
}

func TestReplayOff(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	opts := DefaultOptions()
	opts.ReplayProtection = false
	v := newTestVerifier(t, "localhost", opts, NewReplayCache(1))
	tok := "\x00alice\x00" + mint(t, v, "alice", now)
	for i := 0; i < 3; i++ {
		if _, err := v.Verify(context.Background(), []byte(tok), now); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMint(t *testing.T) {
	now := time.Unix(1_800_000_010, 0)
	for _, nonce := range []int{0, 8, 32, 128} {
		opts := DefaultOptions()
		opts.NonceDigits = nonce
		v := newTestVerifier(t, "localhost", opts, nil)
		tok, exp, err := v.Mint("Zoë", now)
		if err != nil {
			t.Fatal(err)
		}
		want := nonce
		if want == 0 {
			want = 32
		}
		if d, _, _ := strings.Cut(tok, " "); len(d) != 8+want {
			t.Errorf("nonce_digits %d: %d digits", nonce, len(d))
		}
		if exp != time.Unix(1_800_000_060, 0).UTC() {
			t.Errorf("expires %v", exp)
		}
		if node, err := v.Verify(context.Background(), []byte("\x00zoë\x00"+tok), now); err != nil || node != "zoë" {
			t.Errorf("Verify(minted) = %q, %v", node, err)
		}
		if node, err := v.Verify(context.Background(), []byte("\x00zoë\x00"+tok), exp); err == nil {
			t.Errorf("Verify at expiry = %q, want an error", node)
		}
	}
	v := newTestVerifier(t, "localhost", DefaultOptions(), nil)
	for _, bad := range []string{"", "a@b", "a b", "\xff"} {
		if _, _, err := v.Mint(bad, now); cond(err) != MalformedRequest {
			t.Errorf("Mint(%q): %v", bad, err)
		}
	}
	a, _, _ := v.Mint("alice", now)
	b, _, _ := v.Mint("alice", now)
	if a == b {
		t.Error("two tokens are the same")
	}
}

func TestNewVerifierErrors(t *testing.T) {
	bad := DefaultOptions()
	bad.OTPDigits = 5
	tests := []struct {
		host string
		keys Keys
		opts Options
		want string
	}{
		{"localhost", KeyMap{"otp_seed": []byte("s")}, DefaultOptions(), `key "access_secret"`},
		{"localhost", KeyMap{"access_secret": []byte("s")}, DefaultOptions(), `key "otp_seed"`},
		{"localhost", KeyMap{"access_secret": {}, "otp_seed": []byte("s")}, DefaultOptions(), "empty"},
		{"localhost", testKeys["localhost"], bad, "otp_digits = 5"},
		{"", testKeys["localhost"], DefaultOptions(), "not a valid domain"},
		{"a b", testKeys["localhost"], DefaultOptions(), "not a valid domain"},
	}
	for _, tc := range tests {
		_, err := NewVerifier(tc.host, tc.keys, tc.opts, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "sasl: ") {
			t.Errorf("NewVerifier(%q): %v, want %q", tc.host, err, tc.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) {}, ""},
		{func(o *Options) { o.NonceDigits = 0 }, ""},
		{func(o *Options) { o.OTPDigits = 11 }, "otp_digits = 11"},
		{func(o *Options) { o.OTPPeriod = 0 }, "otp_period = 0"},
		{func(o *Options) { o.OTPSkew = -1 }, "otp_skew = -1"},
		{func(o *Options) { o.NonceDigits = 4 }, "nonce_digits = 4"},
		{func(o *Options) { o.NonceDigits = 1000 }, "nonce_digits = 1000"},
		{func(o *Options) { o.SecretKey = "" }, "secret_key"},
		{func(o *Options) { o.SeedKey = "" }, "seed_key"},
	}
	for _, tc := range tests {
		o := DefaultOptions()
		tc.edit(&o)
		err := o.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want %q", err, tc.want)
		}
	}
	if DefaultOptions().LegacyNonceWarning() != "" {
		t.Error("default options warn")
	}
	o := DefaultOptions()
	o.NonceDigits = 0
	if !strings.Contains(o.LegacyNonceWarning(), "1alice") {
		t.Error("legacy warning does not name the risk")
	}
}

func TestPackageMintVerify(t *testing.T) {
	v := loadVectors(t)
	keys := vectorKeys(t, v)
	tc := v.Tokens[1]
	now := time.Unix(tc.UnixTime, 0)
	if node, err := Verify(context.Background(), keys, DefaultOptions(), tc.Node, tc.Token, tc.Host, now); err != nil || node != tc.Node {
		t.Fatalf("Verify(vector) = %q, %v", node, err)
	}
	tok, exp, err := Mint(keys, DefaultOptions(), "Carol", "first.com", now)
	if err != nil {
		t.Fatal(err)
	}
	if node, err := Verify(context.Background(), keys, DefaultOptions(), "carol", tok, "first.com", exp.Add(-time.Second)); err != nil || node != "carol" {
		t.Fatalf("Verify(minted) = %q, %v", node, err)
	}
	if _, err := Verify(context.Background(), keys, DefaultOptions(), "carol", tok, "first.com", exp); cond(err) != NotAuthorized {
		t.Fatalf("Verify at expiry: %v", err)
	}
	if _, _, err := Mint(KeyMap{}, DefaultOptions(), "carol", "first.com", now); err == nil {
		t.Fatal("Mint without keys")
	}
}

// TestReplayConcurrent sends one token from many goroutines at once, on two
// verifiers of the same host sharing the cache (as during a key reload):
// exactly one login succeeds.
func TestReplayConcurrent(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	replay := NewReplayCache(1000)
	old := newTestVerifier(t, "localhost", DefaultOptions(), replay)
	reloaded := newTestVerifier(t, "localhost", DefaultOptions(), replay)
	for round := 0; round < 20; round++ {
		resp := []byte("\x00alice\x00" + mint(t, old, "alice", now))
		const n = 16
		results := make(chan error, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			v := old
			if i%2 == 1 {
				v = reloaded
			}
			go func() {
				<-start
				_, err := v.Verify(context.Background(), resp, now)
				results <- err
			}()
		}
		close(start)
		ok := 0
		for i := 0; i < n; i++ {
			switch err := <-results; cond(err) {
			case "":
				ok++
			case NotAuthorized:
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d logins with one token", round, ok)
		}
	}
}

// TestRandomDigitsUniform: every digit about as often as the others (the
// bounds are ten standard deviations wide: this fails only if it is broken).
func TestRandomDigitsUniform(t *testing.T) {
	buf := make([]byte, 100_000)
	if err := randomDigits(buf); err != nil {
		t.Fatal(err)
	}
	var counts [10]int
	for _, c := range buf {
		if c < '0' || c > '9' {
			t.Fatalf("not a digit: %q", c)
		}
		counts[c-'0']++
	}
	for d, n := range counts {
		if n < 9_000 || n > 11_000 {
			t.Errorf("digit %d: %d times in 100000", d, n)
		}
	}
}
