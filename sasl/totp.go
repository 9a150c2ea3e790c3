package sasl

import (
	"encoding/binary"
	"hash"
)

// pow10 holds 10^n for the OTP lengths Options allows.
var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// hotp writes the RFC 4226 code of counter, len(dst) decimal digits with
// leading zeros, into dst. mac is an HMAC-SHA1 keyed with the OTP seed and
// scratch has room for the counter and the MAC (28 bytes), so nothing is
// allocated. RFC 6238 TOTP is hotp of unixTime/period.
func hotp(mac hash.Hash, scratch []byte, counter uint64, dst []byte) {
	binary.BigEndian.PutUint64(scratch[:8], counter)
	mac.Reset()
	mac.Write(scratch[:8])
	sum := mac.Sum(scratch[8:8])
	off := sum[len(sum)-1] & 0x0f
	code := uint64(binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff)
	code %= pow10[len(dst)]
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + code%10)
		code /= 10
	}
}
