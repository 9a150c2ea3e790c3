package sasl

import (
	"encoding/base32"
	"errors"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// seedText is how pquerna/otp takes a TOTP key: base32 text, which it pads
// and decodes back to the seed's bytes before keying HMAC-SHA1. Without
// padding, every seed length round-trips unchanged.
var seedText = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpKey computes the RFC 6238 codes (HMAC-SHA1) of one host's otp_seed with
// pquerna/otp. Each call allocates; the verifier calls it once per time step
// and shares the result (otpWindow), never once per login.
type totpKey struct {
	secret string // the seed as base32 text: secret, never logged
	period int64
	opts   totp.ValidateOpts
}

func newTOTPKey(seed []byte, digits, period int) totpKey {
	return totpKey{
		secret: seedText.EncodeToString(seed),
		period: int64(period),
		opts: totp.ValidateOpts{
			Period:    uint(period),
			Digits:    otp.Digits(digits),
			Algorithm: otp.AlgorithmSHA1,
		},
	}
}

var errTOTP = errors.New("sasl: computing the TOTP code failed")

// code writes the TOTP code of time step step (the HOTP of the step number),
// len(dst) decimal digits with leading zeros, into dst.
func (k totpKey) code(step int64, dst []byte) error {
	if step < 0 {
		return errTOTP
	}
	c, err := totp.GenerateCodeCustom(k.secret, time.Unix(step*k.period, 0), k.opts)
	if err != nil || len(c) != len(dst) {
		return errTOTP
	}
	copy(dst, c)
	return nil
}
