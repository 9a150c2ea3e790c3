package sasl

import "fmt"

// Options are mod_auth_token's options for one host (the TOML section
// [modules.mod_auth_token]).
type Options struct {
	OTPDigits        int    `toml:"otp_digits"`
	OTPPeriod        int    `toml:"otp_period"` // seconds
	OTPSkew          int    `toml:"otp_skew"`   // windows accepted on either side of now
	NonceDigits      int    `toml:"nonce_digits"`
	SecretKey        string `toml:"secret_key"` // keystore name of the HMAC-SHA256 key
	SeedKey          string `toml:"seed_key"`   // keystore name of the TOTP key
	ReplayProtection bool   `toml:"replay_protection"`
	// Plain offers SASL PLAIN beside X-TOKEN, with a token as the password
	// (see Mechanisms): for clients that have no X-TOKEN.
	Plain bool `toml:"plain"`
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

// Limits of the options. A token is at most MaxTokenSize bytes, so the digits
// must leave room for the space and the 44 characters of the signature.
const (
	MinOTPDigits   = 6 // RFC 4226 section 5.3
	MaxOTPDigits   = 10
	MaxOTPPeriod   = 3600
	MaxOTPSkew     = 10
	MinNonceDigits = 8 // a shorter nonce makes two tokens of one window collide
	MaxNonceDigits = 128
	MaxTokenSize   = 1024
)

// Validate reports the first option out of range, naming it as in the TOML
// file ("mod_auth_token: otp_digits = 5: ...").
func (o Options) Validate() error {
	switch {
	case o.OTPDigits < MinOTPDigits || o.OTPDigits > MaxOTPDigits:
		return fmt.Errorf("mod_auth_token: otp_digits = %d: must be %d to %d", o.OTPDigits, MinOTPDigits, MaxOTPDigits)
	case o.OTPPeriod < 1 || o.OTPPeriod > MaxOTPPeriod:
		return fmt.Errorf("mod_auth_token: otp_period = %d: must be 1 to %d seconds", o.OTPPeriod, MaxOTPPeriod)
	case o.OTPSkew < 0 || o.OTPSkew > MaxOTPSkew:
		return fmt.Errorf("mod_auth_token: otp_skew = %d: must be 0 to %d windows", o.OTPSkew, MaxOTPSkew)
	case o.NonceDigits != 0 && (o.NonceDigits < MinNonceDigits || o.NonceDigits > MaxNonceDigits):
		return fmt.Errorf("mod_auth_token: nonce_digits = %d: must be %d to %d, or 0 for any length (unsafe)", o.NonceDigits, MinNonceDigits, MaxNonceDigits)
	case o.SecretKey == "":
		return fmt.Errorf("mod_auth_token: secret_key is empty: it names the keystore key of the HMAC-SHA256 secret")
	case o.SeedKey == "":
		return fmt.Errorf("mod_auth_token: seed_key is empty: it names the keystore key of the TOTP seed")
	}
	return nil
}

// LegacyNonceWarning is the warning to log at start for a host whose
// nonce_digits is 0, or "" when the options are safe.
func (o Options) LegacyNonceWarning() string {
	if o.NonceDigits != 0 {
		return ""
	}
	return "mod_auth_token: nonce_digits = 0 accepts nonces of any length: digits can move between the nonce and a username that starts with digits (a token for \"1alice\" logs in as \"alice\"); set nonce_digits to the length your token issuer uses (32 for Prosody's)"
}
