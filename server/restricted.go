package server

import (
	"encoding/xml"
	"errors"
	"strings"

	"github.com/xtokend/xtokend/sasl"
	"github.com/xtokend/xtokend/websocket"
)

// condRestrictedXML is RFC 6120 section 4.9.3.18: XML features a stream must
// not use (section 11.1): comments, processing instructions, DTDs and entity
// references other than the five predefined ones and character references.
const condRestrictedXML = "restricted-xml"

// badXMLCondition is the stream error for err, an error of the XML reader:
// restricted-xml for a feature XMPP restricts, not-well-formed for the rest.
func badXMLCondition(err error) string {
	var fe *websocket.FramingError
	if errors.As(err, &fe) {
		return fe.Condition // a WebSocket message RFC 7395 does not allow
	}
	if isRestrictedXML(err) {
		return condRestrictedXML
	}
	return condNotWellFormed
}

// isRestrictedXML reports whether err is the reader refusing a comment, a
// processing instruction, a directive (a DTD among them) or an entity
// reference. encoding/xml in strict mode reports an undefined entity as
// "invalid character entity &name;", and a bad character reference as
// "invalid character entity &#...;": only the first is restricted, the
// second is plain bad XML.
func isRestrictedXML(err error) bool {
	if errors.Is(err, errComment) || errors.Is(err, errProcInst) || errors.Is(err, errDirective) || errors.Is(err, sasl.ErrRestrictedXML) {
		return true
	}
	var syn *xml.SyntaxError
	if !errors.As(err, &syn) {
		return false
	}
	ref, ok := strings.CutPrefix(syn.Msg, "invalid character entity &")
	return ok && ref != "" && ref[0] != '#'
}
