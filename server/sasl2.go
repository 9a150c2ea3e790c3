package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"time"

	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/internal/xmltok"
	"github.com/xtokend/xtokend/sasl"
)

// SASL2 (XEP-0388) is offered beside RFC 6120's SASL, with the same
// mechanisms and the same checks (one verifier, one replay cache, the
// failed-login limits, the login metrics): only the framing differs. What
// it adds is that the <authenticate/> may carry more than the credentials:
// a Bind2 request (XEP-0386), which binds a resource (and may enable stream
// management) in the same round trip, and FAST (XEP-0484) requests, which
// ask for a token or log in with one. There is no stream restart after
// <success/>: the stream goes on, bound or at the bind stage.

// appendSASL2Failure appends a failed exchange's answer: the RFC 6120
// condition, and text when there is one.
func appendSASL2Failure(b []byte, cond sasl.Condition, text string) []byte {
	b = append(b, "<failure xmlns='"+nsSASL2+"'><"...)
	b = append(b, cond...)
	b = append(b, " xmlns='"+sasl.NS+"'/>"...)
	if text != "" {
		b = append(b, "<text>"...)
		b = appendEscaped(b, text)
		b = append(b, "</text>"...)
	}
	return append(b, "</failure>"...)
}

// answerSASL2Challenge asks for the response an <authenticate/> without
// an initial response left out.
const answerSASL2Challenge = "<challenge xmlns='" + nsSASL2 + "'/>"

// sasl2Success is what a <success/> carries besides the identity.
type sasl2Success struct {
	additional []byte // the mechanism's additional data (FAST's responder HMAC)
	identity   string // the full JID when bound, else the bare JID
	sm         []byte // <resumed/> or <failed/> of an inline resumption
	resumed    bool
	bound      bool
	enabled    []byte // <enabled/> of stream management, inside <bound/>
	token      fastSecret
	expiry     time.Time
}

func appendSASL2Success(b []byte, s *sasl2Success) []byte {
	b = append(b, "<success xmlns='"+nsSASL2+"'>"...)
	if s.additional != nil {
		b = append(b, "<additional-data>"...)
		b = base64.StdEncoding.AppendEncode(b, s.additional)
		b = append(b, "</additional-data>"...)
	}
	b = append(b, "<authorization-identifier>"...)
	b = appendEscaped(b, s.identity)
	b = append(b, "</authorization-identifier>"...)
	b = append(b, s.sm...)
	if s.bound {
		b = append(b, "<bound xmlns='"+nsBind2+"'>"...)
		b = append(b, s.enabled...)
		b = append(b, "</bound>"...)
	}
	if s.token != "" {
		b = append(b, "<token xmlns='"+nsFAST+"' expiry='"...)
		b = s.expiry.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, "' token='"...)
		b = appendEscaped(b, string(s.token))
		b = append(b, "'/>"...)
	}
	return append(b, "</success>"...)
}

// sasl2Element answers an element of the SASL2 namespace read during
// negotiation (start read from d), on a stream at the SASL stage. bound
// reports that a Bind2 request bound a resource (negotiation is over);
// c.node set and bound false means the stream goes on at the bind stage.
func (c *conn) sasl2Element(ctx context.Context, d *xmltok.Decoder, start xml.StartElement) (bound bool, err error) {
	if start.Name.Local != "authenticate" {
		// <response/> or <abort/> outside an exchange, or something else.
		if err := d.Skip(); err != nil {
			return false, err
		}
		cond := sasl.MalformedRequest
		if start.Name.Local == "abort" {
			cond = sasl.Aborted
		}
		return false, c.sasl2Fail(&sasl.Error{Condition: cond, Reason: "no exchange in progress"}, "")
	}
	if c.sasl2Failures >= sasl.DefaultMaxAttempts {
		return false, &clientError{condPolicyViolation, "too many failed authentication attempts"}
	}
	a, err := readSASL2Authenticate(d, start)
	if err != nil {
		return false, err
	}
	node, additional, fail, err := c.sasl2Verify(ctx, d, &a)
	if err != nil {
		return false, err
	}
	if fail != nil {
		c.sasl2Failures++
		return false, c.sasl2Fail(fail, "")
	}
	c.node, c.loggedIn = node, time.Now()
	return c.sasl2Succeed(&a, additional)
}

// sasl2Fail writes a <failure/>.
func (c *conn) sasl2Fail(fail *sasl.Error, text string) error {
	c.scratch = appendSASL2Failure(c.scratch[:0], fail.Condition, text)
	_, err := c.t.Write(c.scratch)
	return err
}

// sasl2Verify runs the mechanism a names: X-TOKEN or PLAIN through the
// host's FeatureConfig (asking for the response if a has none), a FAST
// mechanism through the FAST tokens. additional is the mechanism's data
// for the <success/>.
func (c *conn) sasl2Verify(ctx context.Context, d *xmltok.Decoder, a *sasl2Auth) (node string, additional []byte, fail *sasl.Error, err error) {
	if a.fail != nil {
		c.loginResult("", a.fail)
		return "", nil, a.fail, nil
	}
	if isFASTMechanism(a.mechanism) {
		node, additional, fail = c.fastLogin(a)
		return node, additional, fail, nil
	}
	payload := a.response
	if !a.hasInitial {
		if _, err := c.t.WriteString(answerSASL2Challenge); err != nil {
			return "", nil, nil, err
		}
		start, err := nextElement(d)
		if err != nil {
			return "", nil, nil, err
		}
		if start.Name != (xml.Name{Space: nsSASL2, Local: "response"}) {
			if err := d.Skip(); err != nil {
				return "", nil, nil, err
			}
			fail = &sasl.Error{Condition: sasl.MalformedRequest, Reason: "expected <response/>"}
			if start.Name == (xml.Name{Space: nsSASL2, Local: "abort"}) {
				fail = &sasl.Error{Condition: sasl.Aborted, Reason: "the client aborted"}
			}
			c.loginResult("", fail)
			return "", nil, fail, nil
		}
		payload, fail, err = sasl.ReadPayload(d, start)
		if err != nil {
			return "", nil, nil, err
		}
		if fail != nil {
			c.loginResult("", fail)
			return "", nil, fail, nil
		}
	}
	node, fail = c.saslConfig().Attempt(ctx, a.mechanism, payload)
	return node, nil, fail, nil
}

// sasl2Succeed binds when a asks for it (Bind2), issues a FAST token when
// one is asked for, and writes the <success/>. Without a bind, the stream
// features of the bind stage follow on the same stream.
func (c *conn) sasl2Succeed(a *sasl2Auth, additional []byte) (bool, error) {
	s := sasl2Success{additional: additional}
	bare, err := c.host.userJID(c.node, "")
	if err != nil {
		return false, err
	}
	s.identity = bare.String()
	if a.resume != nil {
		// XEP-0198 inline: the session resumed stands for the bind; a
		// resumption that failed leaves the bind, if asked for, to go on.
		resumed := c.resumeSession(*a.resume)
		s.sm = append([]byte(nil), c.scratch...)
		if resumed {
			s.identity, s.resumed = c.sess.full, true
		}
	}
	if a.bind && !s.resumed {
		full, err := c.bind(bind2Resource(a.tag, a.userAgentID))
		if err != nil {
			// Revoked (not-authorized) or shutting down (try later).
			var se stanza.Error
			cond, text := sasl.TemporaryAuthFailure, ""
			if errors.As(err, &se) && se.Condition == stanza.NotAuthorized {
				cond, text = sasl.NotAuthorized, textRevoked
			}
			c.sasl2Fail(&sasl.Error{Condition: cond, Reason: "bind refused"}, text)
			return false, errBindRefused
		}
		s.identity, s.bound = full.String(), true
		if a.enable {
			s.enabled = c.sess.smEnable(c, a.smResume, true)
		}
	}
	if _, offered := c.fastChannelBinding(a.requestToken); offered && a.userAgentID != "" {
		s.token, s.expiry = c.srv.fast.issue(fastUser{c.host.name, c.node, a.userAgentID}, a.requestToken, a.software, a.device, c.fastLifetime(), time.Now())
	} else if a.rotate && a.userAgentID != "" {
		s.token, s.expiry = c.srv.fast.issue(fastUser{c.host.name, c.node, a.userAgentID}, a.mechanism, a.software, a.device, c.fastLifetime(), time.Now())
	}
	c.scratch = appendSASL2Success(c.scratch[:0], &s)
	if !s.bound && !s.resumed {
		c.scratch = append(c.scratch, c.srv.bindFeatures()...)
	}
	_, err = c.t.Write(c.scratch)
	return s.bound || s.resumed, err
}

// bind2Resource is the resource a Bind2 request gets (XEP-0386: the
// server picks it): the client's tag (its software's name), then
// characters stable for the user agent id (a digest of it), so that a
// client that comes back replaces the session it left (conflict), or
// random ones without an id.
func bind2Resource(tag, agent string) string {
	tag = string(bytes.TrimSpace([]byte(tag)))
	if agent == "" {
		if tag == "" {
			return ""
		}
		return tag + "." + randomResource()[len("xtokend-"):]
	}
	sum := sha256.Sum256([]byte(agent))
	if tag == "" {
		return "xtokend-" + hex.EncodeToString(sum[:8])
	}
	return tag + "." + hex.EncodeToString(sum[:8])
}
