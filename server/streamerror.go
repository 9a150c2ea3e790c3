package server

import (
	"bytes"
	"encoding/xml"
)

// Stream error conditions of RFC 6120 section 4.9.3 that the server sends.
const (
	condBadFormat             = "bad-format"
	condConflict              = "conflict"
	condConnectionTimeout     = "connection-timeout"
	condHostUnknown           = "host-unknown"
	condInvalidFrom           = "invalid-from"
	condNotWellFormed         = "not-well-formed"
	condPolicyViolation       = "policy-violation"
	condResourceConstraint    = "resource-constraint"
	condSystemShutdown        = "system-shutdown"
	condUnsupportedStanzaType = "unsupported-stanza-type"
)

const nsStreams = "urn:ietf:params:xml:ns:xmpp-streams"

// clientError is a client fault that ends its stream with a stream error.
type clientError struct {
	cond, text string
}

func (e *clientError) Error() string { return "server: " + e.cond + ": " + e.text }

// streamErrorBytes is a stream error (none if cond is empty) followed by the
// end of the stream. The 'stream' prefix is the one mellium's header binds.
func streamErrorBytes(cond, text string) []byte {
	var b bytes.Buffer
	if cond != "" {
		b.WriteString("<stream:error><")
		b.WriteString(cond)
		b.WriteString(" xmlns='" + nsStreams + "'/>")
		if text != "" {
			b.WriteString("<text xmlns='" + nsStreams + "'>")
			xml.EscapeText(&b, []byte(text))
			b.WriteString("</text>")
		}
		b.WriteString("</stream:error>")
	}
	b.WriteString("</stream:stream>")
	return b.Bytes()
}
