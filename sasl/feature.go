package sasl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/stream"
)

// NS is the XML namespace of SASL in XMPP (RFC 6120 section 6).
const NS = "urn:ietf:params:xml:ns:xmpp-sasl"

// MaxResponseSize bounds a decoded SASL response: an authzid (a bare JID), a
// username (a localpart, at most 1023 bytes) and a token (at most 1024 bytes)
// fit. A longer <auth/> payload is refused with malformed-request without
// being decoded.
const MaxResponseSize = 4096

// maxPayload is MaxResponseSize in base64.
var maxPayload = base64.StdEncoding.EncodedLen(MaxResponseSize)

// DefaultMaxAttempts is how many failed SASL exchanges a connection may have.
const DefaultMaxAttempts = 3

// FeatureConfig configures the X-TOKEN stream feature of one connection.
type FeatureConfig struct {
	// Verifier returns the host's current verifier (a func so a reload takes
	// effect). A nil result fails the attempt with temporary-auth-failure.
	Verifier func() *Verifier
	// MaxAttempts is how many failed exchanges a connection may have; the
	// next <auth/> gets a policy-violation stream error. 0 means 3.
	MaxAttempts int
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// OnResult is called after each attempt, before the answer is written:
	// node is set on success, err (an *Error) on failure. It is for logs,
	// metrics and limits: Exchange's caller takes the node from Exchange's
	// result (a mellium session, which has no such result, from OnResult).
	OnResult func(node string, err error)
	// Admit, when set, is asked before each attempt is verified (a gate):
	// a non-nil *Error refuses the attempt without verifying it, so it
	// refuses a valid token too. The client gets its condition in a
	// <failure/>, OnResult gets the same *Error (so the caller tells a
	// refusal by identity), and it counts toward MaxAttempts. A limit on
	// failed logins belongs in LimitFailure instead.
	Admit func() *Error
	// LimitFailure, when set, is told of each attempt that failed (a limit
	// on failed logins). It is asked after verification, never before: a
	// valid token logs in whatever others' failures were, which is safe
	// because a token is an HMAC under a secret key, not something a limit
	// has to stop anyone guessing. user is the username the attempt named,
	// case-mapped ("" when it named no valid one). A non-nil result is the
	// answer in fail's place (OnResult gets it too). Failures that are the
	// server's (temporary-auth-failure) are not told.
	LimitFailure func(user string, fail *Error) *Error
	// Mechanisms are the SASL mechanisms offered and accepted. X-TOKEN
	// always is, first; PLAIN (the token as the password, checked by the
	// same verifier and replay cache) is when listed. Set it to the host's
	// Options.Mechanisms() on a stream where PLAIN may be offered: an
	// encrypted one, or where the configuration allows SASL in the clear.
	// An <auth/> for a mechanism not offered gets invalid-mechanism.
	Mechanisms []string
}

// ErrTooManyAttempts is returned by the feature's Negotiate when a connection
// tries SASL again after MaxAttempts failures; the client has been sent a
// policy-violation stream error and the stream is closed.
var ErrTooManyAttempts = errors.New("sasl: too many failed authentication attempts")

// errMechanism is the failure of an <auth/> for a mechanism not offered.
var errMechanism = &Error{InvalidMechanism, "mechanism is not offered"}

// errServerTemporary is the failure when there is no verifier for the host.
var errServerTemporary = &Error{TemporaryAuthFailure, "no verifier for this host"}

// withDefaults fills in what the zero FeatureConfig leaves out.
func (cfg FeatureConfig) withDefaults() FeatureConfig {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnResult == nil {
		cfg.OnResult = func(string, error) {}
	}
	return cfg
}

// Feature returns the server side of the SASL stream feature, offering
// X-TOKEN (and PLAIN when cfg.Mechanisms has it), for a mellium session. Make one per connection. It runs the same
// exchange as Exchange.
//
// Unlike mellium's SASLServer, it answers every failed exchange with a
// <failure/> carrying the RFC 6120 condition, lets the client try again, and
// after MaxAttempts failures answers the next attempt with a policy-violation
// stream error. On success it sends <success/> and returns the Authn state so
// that mellium restarts the stream; the authenticated node is the one passed
// to OnResult, never the stream's from.
func Feature(cfg FeatureConfig) xmpp.StreamFeature {
	cfg = cfg.withDefaults()
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: NS, Local: "mechanisms"},
		Necessary:  xmpp.Secure,
		Prohibited: xmpp.Authn,
		List: func(ctx context.Context, w xmlstream.TokenWriter, start xml.StartElement) (bool, error) {
			mech := xml.StartElement{Name: xml.Name{Local: "mechanism"}}
			var list []xml.TokenReader
			for _, m := range cfg.mechanisms() {
				list = append(list, xmlstream.Wrap(xmlstream.Token(xml.CharData(m)), mech))
			}
			_, err := xmlstream.Copy(w, xmlstream.Wrap(xmlstream.MultiReader(list...), start))
			return true, err
		},
		Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, interface{}, error) {
			var list struct {
				Mechanisms []string `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanism"`
			}
			err := d.DecodeElement(&list, start)
			return true, list.Mechanisms, err
		},
		Negotiate: func(ctx context.Context, session *xmpp.Session, _ interface{}) (xmpp.SessionState, io.ReadWriter, error) {
			if session.State()&xmpp.Received == 0 {
				return 0, nil, errors.New("sasl: the X-TOKEN feature is for the receiving side only; clients use xmpp.SASL with ClientMechanism")
			}
			r := session.TokenReader()
			defer r.Close()
			// mellium's encoder has flushed the features: the answers are
			// written to the connection directly.
			if _, err := cfg.negotiate(ctx, xml.NewTokenDecoder(r), nil, session.Conn()); err != nil {
				return 0, nil, err
			}
			return xmpp.Authn, session.Conn(), nil
		},
	}
}

// Exchange runs the X-TOKEN exchange on a stream of the caller's own: start is
// the first SASL element the caller read from d (an <auth/>, say), d reads
// the rest of the stream, and the answers are written to w. It returns the
// authenticated node once an exchange succeeded (after <success/>), or an
// error: ErrTooManyAttempts (the policy-violation stream error was written),
// io.EOF if the client ended its stream, a stream.Error the client sent, or
// the decoder's or writer's error.
//
// Only SASL elements may follow start until the exchange succeeds: anything
// else is answered with a malformed-request failure, like mellium's feature.
func (cfg FeatureConfig) Exchange(ctx context.Context, d Decoder, start xml.StartElement, w io.Writer) (string, error) {
	return cfg.withDefaults().negotiate(ctx, d, &start, w)
}

// Decoder is what Exchange reads the stream with: an *xml.Decoder, or a
// decoder of the caller's own that reads as encoding/xml does (the server's
// internal/xmltok).
type Decoder interface {
	xml.TokenReader
	// Skip reads up to the end of the element last started.
	Skip() error
	// DecodeElement unmarshals the element start opened, as encoding/xml.
	DecodeElement(v any, start *xml.StartElement) error
}

// Errors of the stream level while the exchange reads it.
var (
	errStreamText   = errors.New("sasl: unexpected stream-level chardata")
	errStreamMarkup = errors.New("sasl: disallowed XML comment, processing instruction or directive")
	errStreamLevel  = errors.New("sasl: unexpected stream-level element")
)

// Constant answers: the exchange writes bytes, not tokens (the quotes are
// those mellium's encoder wrote).
const (
	answerChallenge = `<challenge xmlns="` + NS + `"></challenge>`
	answerSuccess   = `<success xmlns="` + NS + `"></success>`
	streamNS        = "http://etherx.jabber.org/streams"
)

// negotiate runs SASL exchanges until one succeeds, the client gives up, or it
// has failed too often. first, if not nil, is the element that started the
// exchange, already read from d.
func (cfg FeatureConfig) negotiate(ctx context.Context, d Decoder, first *xml.StartElement, w io.Writer) (string, error) {
	failures := 0
	awaitingResponse := false // an empty <auth/> got an empty challenge
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		var start xml.StartElement
		if first != nil {
			start, first = *first, nil
		} else {
			tok, err := d.Token()
			if err != nil {
				return "", err
			}
			switch t := tok.(type) {
			case xml.StartElement:
				start = t
			case xml.EndElement:
				// On a stream of the caller's own, the stream's end (mellium's
				// reader turns it into io.EOF itself).
				return "", io.EOF
			case xml.CharData:
				if len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
					return "", errStreamText
				}
				continue // whitespace between elements
			default:
				return "", errStreamMarkup
			}
		}
		if start.Name.Space == streamNS {
			if start.Name.Local == "error" {
				var se stream.Error
				if err := d.DecodeElement(&se, &start); err != nil {
					return "", err
				}
				return "", se
			}
			return "", errStreamLevel
		}
		if failures >= cfg.MaxAttempts {
			return "", policyViolation(w)
		}

		var fail *Error
		switch start.Name {
		case xml.Name{Space: NS, Local: "auth"}:
			mechanism := ""
			for _, a := range start.Attr {
				if a.Name.Local == "mechanism" && a.Name.Space == "" {
					mechanism = a.Value
				}
			}
			payload, perr, err := ReadPayload(d, start)
			switch {
			case err != nil:
				return "", err
			case !cfg.offers(mechanism):
				fail = errMechanism
			case perr != nil:
				fail = perr
			case isEmptyPayload(payload):
				awaitingResponse = true
				if _, err := io.WriteString(w, answerChallenge); err != nil {
					return "", err
				}
				continue
			default:
				awaitingResponse = false
				var node string
				node, fail = cfg.attempt(ctx, payload)
				if fail == nil {
					cfg.OnResult(node, nil)
					_, err := io.WriteString(w, answerSuccess)
					return node, err
				}
			}
			awaitingResponse = false
		case xml.Name{Space: NS, Local: "response"}:
			payload, perr, err := ReadPayload(d, start)
			switch {
			case err != nil:
				return "", err
			case !awaitingResponse:
				fail = &Error{MalformedRequest, "<response/> without an exchange in progress"}
			case perr != nil:
				fail = perr
			case isEmptyPayload(payload):
				fail = &Error{MalformedRequest, "empty response to the empty challenge"}
			default:
				var node string
				node, fail = cfg.attempt(ctx, payload)
				if fail == nil {
					cfg.OnResult(node, nil)
					_, err := io.WriteString(w, answerSuccess)
					return node, err
				}
			}
			awaitingResponse = false
		case xml.Name{Space: NS, Local: "abort"}:
			if err := d.Skip(); err != nil {
				return "", err
			}
			awaitingResponse = false
			fail = &Error{Aborted, "the client aborted"}
		default:
			if err := d.Skip(); err != nil {
				return "", err
			}
			awaitingResponse = false
			fail = &Error{MalformedRequest, "unexpected element <" + truncate(start.Name.Local, 64) + "> during SASL"}
		}
		failures++
		cfg.OnResult("", fail)
		if _, err := io.WriteString(w, failureBytes(fail.Condition)); err != nil {
			return "", err
		}
	}
}

// attempt decodes and verifies one response payload; ctx (the
// negotiation's) bounds a replay check that asks other cluster nodes.
func (cfg FeatureConfig) attempt(ctx context.Context, payload []byte) (string, *Error) {
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(payload)))
	n, err := base64.StdEncoding.Decode(buf, payload)
	if err != nil {
		return "", cfg.limitFailure(nil, &Error{IncorrectEncoding, "payload is not base64"})
	}
	if cfg.Admit != nil {
		if e := cfg.Admit(); e != nil {
			return "", e
		}
	}
	var v *Verifier
	if cfg.Verifier != nil {
		v = cfg.Verifier()
	}
	if v == nil {
		return "", errServerTemporary
	}
	node, verr := v.Verify(ctx, buf[:n], cfg.Now())
	if verr != nil {
		var e *Error
		if !errors.As(verr, &e) {
			return "", &Error{TemporaryAuthFailure, "verification failed"}
		}
		return "", cfg.limitFailure(buf[:n], e)
	}
	return node, nil
}

// limitFailure tells LimitFailure of a failed attempt (response is its
// decoded payload) and returns the answer: fail, or LimitFailure's.
func (cfg FeatureConfig) limitFailure(response []byte, fail *Error) *Error {
	if cfg.LimitFailure == nil || fail.Condition == TemporaryAuthFailure {
		return fail
	}
	if e := cfg.LimitFailure(failedUsername(response), fail); e != nil {
		return e
	}
	return fail
}

// failedUsername is the case-mapped username a failed response named, for a
// limit per user; "" when it named none that is valid.
func failedUsername(response []byte) string {
	_, authcid, _, e := splitResponse(response)
	if e != nil {
		return ""
	}
	n, e := normalizeUsername(nil, authcid)
	if e != nil {
		return ""
	}
	return string(n)
}

// ErrRestrictedXML is a comment, processing instruction or directive inside
// a SASL element: RFC 6120 section 11.1 forbids them in a stream, which ends
// with restricted-xml.
var ErrRestrictedXML = errors.New("sasl: a comment, processing instruction or directive inside a SASL element")

// ReadPayload reads the character data of the element started by start, up
// to the base64 of MaxResponseSize, and consumes the element: the reader of
// RFC 6120's <auth/> and <response/> and of SASL2's <response/>. fail is the
// answer to an element that is too large or has children; err a broken
// stream or ErrRestrictedXML.
func ReadPayload(d xml.TokenReader, start xml.StartElement) (payload []byte, fail *Error, err error) {
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return nil, nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			fail = &Error{MalformedRequest, "element inside <" + start.Name.Local + "/>"}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth > 1 || fail != nil {
				continue
			}
			if len(payload)+len(t) > maxPayload {
				fail = &Error{MalformedRequest, "payload too large"}
				payload = nil
				continue
			}
			payload = append(payload, t...)
		case xml.Comment, xml.ProcInst, xml.Directive:
			return nil, nil, ErrRestrictedXML
		}
	}
	return payload, fail, nil
}

// truncate cuts s to at most n bytes, for client-chosen text in a reason.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// isEmptyPayload reports whether an <auth/> carries no initial response: an
// empty element, or "=" (RFC 6120 section 6.4.2: a response that is present
// but empty, which for X-TOKEN is no response at all).
func isEmptyPayload(p []byte) bool {
	return len(p) == 0 || len(p) == 1 && p[0] == '='
}

// failureBytes is the <failure/> answer with condition c (one of the
// package's constants: no escaping needed).
func failureBytes(c Condition) string {
	return `<failure xmlns="` + NS + `"><` + string(c) + `></` + string(c) + `></failure>`
}

// policyViolation ends the stream with a policy-violation stream error.
func policyViolation(w io.Writer) error {
	const streamErr = `<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></stream:stream>`
	if _, err := io.WriteString(w, streamErr); err != nil {
		return err
	}
	return ErrTooManyAttempts
}
