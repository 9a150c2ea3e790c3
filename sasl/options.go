package sasl

// Options are mod_auth_token's options for one host.
type Options struct {
	OTPDigits        int    `toml:"otp_digits"`
	OTPPeriod        int    `toml:"otp_period"` // seconds
	OTPSkew          int    `toml:"otp_skew"`   // windows accepted on either side of now
	NonceDigits      int    `toml:"nonce_digits"`
	SecretKey        string `toml:"secret_key"` // keystore name of the HMAC-SHA256 key
	SeedKey          string `toml:"seed_key"`   // keystore name of the TOTP key
	ReplayProtection bool   `toml:"replay_protection"`
}

// DefaultOptions are SPEC.md section 2's defaults.
func DefaultOptions() Options {
	return Options{
		OTPDigits:        8,
		OTPPeriod:        30,
		OTPSkew:          1,
		NonceDigits:      32,
		SecretKey:        "access_secret",
		SeedKey:          "otp_seed",
		ReplayProtection: true,
	}
}

// Keys is what the verifier needs of a keystore: a copy of a named key's bytes.
// *keystore.Store satisfies it.
type Keys interface {
	Key(name string) ([]byte, error)
}
