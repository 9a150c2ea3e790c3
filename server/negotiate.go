package server

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"time"

	"mellium.im/xmpp/stream"

	"github.com/xtokend/xtokend/internal/xmltok"
	"github.com/xtokend/xtokend/sasl"
)

// xtokend negotiates c2s streams itself rather than with mellium's
// xmpp.ReceiveSession: a login is always the same few steps (STARTTLS when
// required, X-TOKEN, bind), and mellium's general machinery for them (an
// encoder and a decoder with their buffers per stream, token readers stacked
// four deep, fmt for every header) cost more CPU than the rest of the login
// together. Here every stream has one decoder (internal/xmltok: encoding/xml's
// tokens at a fraction of its cost) reading the countConn's buffer directly,
// and every answer is bytes appended or constant.
//
// The decoder of the last stream (after SASL) reads the client's header and
// the bind request, and then goes on as the session's stanza reader.

// Stream error conditions only negotiation sends.
const (
	condImproperAddressing = "improper-addressing"
	condInvalidNamespace   = "invalid-namespace"
	condUnsupportedVersion = "unsupported-version"
	condNotAuthorized      = "not-authorized"
)

// tlsError is a failed STARTTLS handshake: the stream is beyond answering.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "server: TLS handshake: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

var (
	errNoTLSConfig = errors.New("server: no TLS configuration")
	// errBindRefused: a bind request was answered with an error the client
	// cannot fix (the server is shutting down).
	errBindRefused = errors.New("server: bind refused")
)

// stage is where a stream is in negotiation; each has its features.
type stage int

const (
	stageStartTLS stage = iota // insecure, STARTTLS required
	stageSASL                  // secure, not authenticated
	stageBind                  // authenticated
)

// negotiate runs the client's streams from the first header to a bound
// resource, and returns the decoder of the last stream, positioned after the
// bind request. Deadlines are the connection's (conn.serve).
func (c *conn) negotiate(ctx context.Context) (*xmltok.Decoder, error) {
	st := stageSASL
	if c.srv.cfg.TLS.RequireStartTLS && !c.t.Secure() {
		st = stageStartTLS
	}
	for {
		// A new stream, a new decoder (RFC 6120 sections 5.4.3.3, 6.4.6),
		// and a new budget for the stream's size limit.
		c.t.RestartStream()
		if err := c.t.CheckStreamStart(); err != nil {
			return nil, err
		}
		d := xmltok.NewDecoder(c.t.StreamReader())
		if err := c.openStream(d, st); err != nil {
			return nil, err
		}
		next, err := c.negotiateStream(ctx, d, st)
		if err != nil {
			return nil, err
		}
		if next < 0 {
			return d, nil // bound
		}
		st = next
	}
}

// openStream reads the client's stream header and answers with the server's
// header and the stage's features.
func (c *conn) openStream(d *xmltok.Decoder, st stage) error {
	c.headerSent = false
	start, err := readStreamHeader(d)
	if err != nil {
		return err
	}
	h, err := checkStreamHeader(start, c.srv.servedHost)
	if err != nil {
		return err
	}
	c.header = replayHeader(start)
	to := h.to
	host := c.srv.headerHost(h)
	if host == nil || (c.host != nil && host != c.host) {
		c.info("host unknown", "to", to.String())
		// The header names the host the client asked for, as mellium's did
		// (some clients, aioxmpp, read a header without 'from' as a broken
		// stream rather than the error that follows).
		c.t.WriteStreamOpen(to.String(), h.from, "")
		c.headerSent = true
		return &clientError{condHostUnknown, ""}
	}
	c.host = host
	features := c.srv.bindFeatures() // featuresBind, with roster versioning when storage is on
	switch st {
	case stageStartTLS:
		if !c.t.CanStartTLS() {
			return &clientError{condPolicyViolation, "TLS is required"}
		}
		features = featuresStartTLS
	case stageSASL:
		features = saslFeatures(host, c.fastOffered())
	}
	c.headerSent = true
	return c.t.WriteStreamOpen(host.name, h.from, features)
}

// negotiateStream reads the client's elements on one stream until it is
// restarted (the next stage) or a resource is bound (-1).
func (c *conn) negotiateStream(ctx context.Context, d *xmltok.Decoder, st stage) (stage, error) {
	for {
		c.t.ResetCount()
		start, err := nextElement(d)
		if err != nil {
			return 0, err
		}
		switch {
		case start.Name.Space == nsStartTLS:
			if st != stageStartTLS || start.Name.Local != "starttls" {
				return 0, &clientError{condPolicyViolation, "STARTTLS is not offered"}
			}
			if err := d.Skip(); err != nil {
				return 0, err
			}
			if err := c.startTLS(ctx); err != nil {
				return 0, err
			}
			return stageSASL, nil

		case start.Name.Space == sasl.NS:
			if st != stageSASL {
				return 0, &clientError{condPolicyViolation, "SASL is not offered"}
			}
			node, err := c.saslConfig().Exchange(ctx, d, start, c.t)
			if err != nil {
				return 0, err
			}
			c.node, c.loggedIn = node, time.Now()
			return stageBind, nil

		case start.Name.Space == nsSASL2:
			if st != stageSASL {
				return 0, &clientError{condPolicyViolation, "SASL is not offered"}
			}
			bound, err := c.sasl2Element(ctx, d, start)
			if err != nil || bound {
				return -1, err
			}
			if c.node != "" {
				st = stageBind // SASL2 does not restart the stream
			}

		case start.Name.Space == nsSM:
			resumed, err := c.smNegotiate(d, start, st)
			if err != nil || resumed {
				return -1, err
			}

		case start.Name.Space == nsClient && (start.Name.Local == "iq" || start.Name.Local == "message" || start.Name.Local == "presence"):
			if st != stageBind || start.Name.Local != "iq" {
				return 0, &clientError{condNotAuthorized, "no stanzas before authentication and resource binding"}
			}
			bound, err := c.bindRequest(d, start)
			if err != nil || bound {
				return -1, err
			}

		default:
			return 0, &clientError{condUnsupportedStanzaType, "unknown element in negotiation"}
		}
	}
}

// startTLS answers <starttls/> and has the transport run the server side
// of the handshake.
func (c *conn) startTLS(ctx context.Context) error {
	conf := c.srv.tlsConfigFor(c.host.name) // the host's certificate, else [tls]'s
	if conf == nil {
		return errNoTLSConfig // never a nil tls.Config: crypto/tls would use defaults
	}
	if _, err := c.t.WriteString(answerProceed); err != nil {
		return err
	}
	return c.t.StartTLS(ctx, conf)
}

// nextElement returns the next element at the top of a stream in
// negotiation, skipping whitespace. The client's end of the stream is io.EOF,
// its stream error a stream.Error; text, comments, processing instructions
// and directives are errors (not-well-formed).
func nextElement(d *xmltok.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != stream.NS {
				return t, nil
			}
			if t.Name.Local == "error" {
				var se stream.Error
				if err := d.DecodeElement(&se, &t); err != nil {
					return xml.StartElement{}, err
				}
				return xml.StartElement{}, se
			}
			return xml.StartElement{}, &clientError{condUnsupportedStanzaType, "unknown stream level element"}
		case xml.EndElement:
			// The decoder matched it with the client's header.
			return xml.StartElement{}, io.EOF
		case xml.CharData:
			if len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
				return xml.StartElement{}, errStreamText
			}
		case xml.ProcInst:
			return xml.StartElement{}, errProcInst
		case xml.Comment:
			return xml.StartElement{}, errComment
		default:
			return xml.StartElement{}, errDirective
		}
	}
}

// endStream ends a stream still in negotiation with a stream error (none if
// cond is empty), after the server's stream header if that is not out yet
// (RFC 6120 section 4.9.1.1).
func (c *conn) endStream(cond, text string) {
	if !c.headerSent {
		name := ""
		if c.host != nil {
			name = c.host.name
		}
		c.t.WriteStreamOpen(name, "", "")
		c.headerSent = true
	}
	if cond == "" {
		c.t.WriteStreamClose()
		return
	}
	c.t.WriteStreamError(cond, text)
}
