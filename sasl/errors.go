package sasl

// Condition is a SASL failure condition of RFC 6120 section 6.5.
type Condition string

// The conditions X-TOKEN answers with (RFC 6120 section 6.5).
const (
	Aborted              Condition = "aborted"
	IncorrectEncoding    Condition = "incorrect-encoding"
	InvalidAuthzid       Condition = "invalid-authzid"
	InvalidMechanism     Condition = "invalid-mechanism"
	MalformedRequest     Condition = "malformed-request"
	NotAuthorized        Condition = "not-authorized"
	TemporaryAuthFailure Condition = "temporary-auth-failure"
)

// Error is a failed SASL exchange: the condition the client is told and a
// reason for the operator's log. Reason never holds a key, token, OTP or nonce.
type Error struct {
	Condition Condition
	Reason    string
}

func (e *Error) Error() string { return "sasl: " + string(e.Condition) + ": " + e.Reason }

// The failures of Verify are fixed values so that a failed login allocates
// nothing and no caller can slip secret bytes into one.
var (
	errNotThreeFields  = &Error{MalformedRequest, "response is not authzid NUL authcid NUL token"}
	errEmptyUsername   = &Error{MalformedRequest, "empty username"}
	errInvalidUsername = &Error{MalformedRequest, "username is not a valid JID localpart"}
	errTokenTooLong    = &Error{MalformedRequest, "token longer than 1024 bytes"}
	errTokenShape      = &Error{MalformedRequest, "token is not digits, a space and a base64 HMAC-SHA256"}
	errTokenDigits     = &Error{MalformedRequest, "token has the wrong number of digits"}
	errAuthzid         = &Error{InvalidAuthzid, "authzid is not the bare JID of the username"}
	errSignature       = &Error{NotAuthorized, "token signature does not match"}
	errOTP             = &Error{NotAuthorized, "token OTP is not valid at this time"}
	errBadTime         = &Error{NotAuthorized, "clock is before the Unix epoch"}
	errReplay          = &Error{NotAuthorized, "token already used"}
	errReplayFull      = &Error{TemporaryAuthFailure, "replay cache full"}
)

var errNoKey = errorString("sasl: no such key")

type errorString string

func (e errorString) Error() string { return string(e) }
