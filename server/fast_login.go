package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/xtokend/xtokend/sasl"
)

// A FAST login's failures. The reasons name no token.
var (
	errFASTNoAgent  = &sasl.Error{Condition: sasl.MalformedRequest, Reason: "FAST needs a user agent id"}
	errFASTNoInit   = &sasl.Error{Condition: sasl.MalformedRequest, Reason: "FAST needs an initial response"}
	errFASTEncoding = &sasl.Error{Condition: sasl.IncorrectEncoding, Reason: "payload is not base64"}
	errFASTShape    = &sasl.Error{Condition: sasl.MalformedRequest, Reason: "response is not username NUL HMAC-SHA-256"}
	errFASTUser     = &sasl.Error{Condition: sasl.MalformedRequest, Reason: "username is not a valid JID localpart"}
	errFASTToken    = &sasl.Error{Condition: sasl.NotAuthorized, Reason: "no such FAST token, expired, or count already used"}
	errFASTMech     = &sasl.Error{Condition: sasl.InvalidMechanism, Reason: "FAST mechanism is not offered"}
)

// isFASTMechanism reports whether name is a hashed-token mechanism
// (draft-schmaus-kitten-sasl-ht), offered or not.
func isFASTMechanism(name string) bool {
	return len(name) > 3 && name[:3] == "HT-"
}

// fastLifetime is how long the host's FAST tokens last.
func (c *conn) fastLifetime() time.Duration {
	return c.host.settings.FAST.TokenLifetime.Duration
}

// fastLogin runs a FAST mechanism: the response is username NUL
// HMAC-SHA-256(token, "Initiator"), checked against the tokens of that user
// and a's user agent. The gate and the failed-login limits apply as to any
// login, and the attempt is counted as one (loginResult).
func (c *conn) fastLogin(a *sasl2Auth) (node string, responder []byte, fail *sasl.Error) {
	node, responder, user, fail := c.fastCheck(a)
	if fail != nil && fail.Condition != sasl.TemporaryAuthFailure && fail != errLoginRefused {
		if e := c.limitFailure(user, fail); e != nil {
			fail = e
		}
	}
	if fail != nil {
		c.loginResult("", fail)
		return "", nil, fail
	}
	c.loginResult(node, nil)
	return node, responder, nil
}

// fastCheck is fastLogin without the accounting; user is the username the
// response named ("" when none valid), for the per-user limit.
func (c *conn) fastCheck(a *sasl2Auth) (node string, responder []byte, user string, fail *sasl.Error) {
	cb, offered := c.fastChannelBinding(a.mechanism)
	switch {
	case !offered:
		return "", nil, "", errFASTMech
	case a.userAgentID == "":
		return "", nil, "", errFASTNoAgent
	case !a.hasInitial || len(a.response) == 0:
		return "", nil, "", errFASTNoInit
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(a.response)))
	n, err := base64.StdEncoding.Decode(raw, a.response)
	if err != nil {
		return "", nil, "", errFASTEncoding
	}
	raw = raw[:n]
	i := bytes.IndexByte(raw, 0)
	if i <= 0 || len(raw)-i-1 != sha256.Size {
		return "", nil, "", errFASTShape
	}
	bare, err := c.host.userJID(string(raw[:i]), "")
	if err != nil || bare.Localpart() == "" {
		return "", nil, "", errFASTUser
	}
	node = bare.Localpart()
	if allow := c.srv.hooks.AllowLogin; allow != nil && !allow(c.ip) {
		return "", nil, node, errLoginRefused
	}
	use := fastUse{mechanism: a.mechanism, initiator: raw[i+1:], cb: cb, count: a.count, hasCount: a.hasCount, invalidate: a.invalidate}
	responder, rotate, ok := c.srv.fast.use(fastUser{c.host.name, node, a.userAgentID}, use, time.Now())
	if !ok {
		return "", nil, node, errFASTToken
	}
	a.rotate = rotate
	return node, responder, "", nil
}
