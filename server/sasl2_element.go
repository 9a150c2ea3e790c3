package server

import (
	"encoding/xml"
	"strconv"

	"github.com/xtokend/xtokend/sasl"
)

// Namespaces of SASL2 (XEP-0388), Bind2 (XEP-0386) and FAST (XEP-0484).
const (
	nsSASL2 = "urn:xmpp:sasl:2"
	nsBind2 = "urn:xmpp:bind:0"
	nsFAST  = "urn:xmpp:fast:0"
)

// Bounds on what a client names in an <authenticate/>: a user agent id is a
// UUID in practice, a tag a client's name.
const (
	maxUserAgentID = 256
	maxBind2Tag    = 64
	maxUAText      = 256
)

// sasl2Auth is an <authenticate/> (or the <response/> that follows an empty
// challenge) as read: what the client asked for, and the first thing wrong
// with it (fail) when it cannot be run.
type sasl2Auth struct {
	mechanism  string
	response   []byte // the initial response, base64
	hasInitial bool

	userAgentID string // <user-agent id/>, "" when none
	software    string
	device      string

	bind     bool   // <bind xmlns='urn:xmpp:bind:0'/>
	tag      string // its <tag/>
	enable   bool   // <enable xmlns='urn:xmpp:sm:3'/> inside the bind
	smResume bool   // <enable resume='true'/>

	resume *smElement // <resume xmlns='urn:xmpp:sm:3'/>: instead of the bind

	requestToken string // <request-token mechanism/> of FAST
	fast         bool   // <fast/>: the mechanism is a FAST one
	count        uint64 // its count, when hasCount
	hasCount     bool
	invalidate   bool // <fast invalidate='true'/>
	rotate       bool // a FAST login whose success carries a new token

	fail *sasl.Error
}

// Failures of the <authenticate/> itself.
var (
	errSASL2Payload   = &sasl.Error{Condition: sasl.MalformedRequest, Reason: "initial response too large"}
	errSASL2UserAgent = &sasl.Error{Condition: sasl.MalformedRequest, Reason: "user agent id missing or too long"}
	errSASL2Count     = &sasl.Error{Condition: sasl.MalformedRequest, Reason: "FAST count is not a number"}
	errSASL2NoMech    = &sasl.Error{Condition: sasl.InvalidMechanism, Reason: "no mechanism named"}
)

// readSASL2Authenticate reads the rest of an <authenticate/> (start read).
// A stream that breaks is err; a request that is wrong is a.fail.
func readSASL2Authenticate(d xml.TokenReader, start xml.StartElement) (a sasl2Auth, err error) {
	a.mechanism = attrValue(start, "mechanism")
	if a.mechanism == "" {
		a.fail = errSASL2NoMech
	}
	maxB64 := sasl.MaxPayload()
	var path [4]xml.Name // the open elements below <authenticate/>
	var uaField *string
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return a, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth-2 < len(path) {
				path[depth-2] = t.Name
			}
			uaField = nil
			switch {
			case depth == 2 && t.Name == xml.Name{Space: nsSASL2, Local: "initial-response"}:
				a.hasInitial = true
			case depth == 2 && t.Name == xml.Name{Space: nsSASL2, Local: "user-agent"}:
				a.userAgentID = attrValue(t, "id")
				if a.userAgentID == "" || len(a.userAgentID) > maxUserAgentID {
					a.setFail(errSASL2UserAgent)
				}
			case depth == 3 && path[0] == xml.Name{Space: nsSASL2, Local: "user-agent"} && t.Name.Space == nsSASL2 && t.Name.Local == "software":
				uaField = &a.software
			case depth == 3 && path[0] == xml.Name{Space: nsSASL2, Local: "user-agent"} && t.Name.Space == nsSASL2 && t.Name.Local == "device":
				uaField = &a.device
			case depth == 2 && t.Name == xml.Name{Space: nsBind2, Local: "bind"}:
				a.bind = true
			case depth == 3 && path[0] == xml.Name{Space: nsBind2, Local: "bind"} && t.Name == xml.Name{Space: nsSM, Local: "enable"},
				depth == 2 && t.Name == xml.Name{Space: nsSM, Local: "resume"}:
				el, err := readSMElement(d, t) // to its end
				if err != nil {
					return a, err
				}
				depth--
				if el.name == "enable" {
					a.enable, a.smResume = true, el.resume
				} else {
					a.resume = &el
				}
			case depth == 2 && t.Name == xml.Name{Space: nsFAST, Local: "request-token"}:
				a.requestToken = attrValue(t, "mechanism")
			case depth == 2 && t.Name == xml.Name{Space: nsFAST, Local: "fast"}:
				a.fast = true
				if c := attrValue(t, "count"); c != "" {
					n, err := strconv.ParseUint(c, 10, 64)
					if err != nil {
						a.setFail(errSASL2Count)
					}
					a.count, a.hasCount = n, true
				}
				inv := attrValue(t, "invalidate")
				a.invalidate = inv == "true" || inv == "1"
			}
		case xml.EndElement:
			depth--
			uaField = nil
		case xml.CharData:
			switch {
			case depth == 2 && path[0] == xml.Name{Space: nsSASL2, Local: "initial-response"}:
				if len(a.response)+len(t) > maxB64 {
					a.setFail(errSASL2Payload)
					continue
				}
				a.response = append(a.response, t...)
			case depth == 3 && path[0] == xml.Name{Space: nsBind2, Local: "bind"} && path[1] == xml.Name{Space: nsBind2, Local: "tag"}:
				if len(a.tag)+len(t) <= maxBind2Tag {
					a.tag += string(t)
				}
			case uaField != nil && depth == 3:
				if len(*uaField)+len(t) <= maxUAText {
					*uaField += string(t)
				}
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
			return a, errComment
		}
	}
	return a, nil
}

func (a *sasl2Auth) setFail(e *sasl.Error) {
	if a.fail == nil {
		a.fail = e
	}
}

// attrValue is start's attribute name (no namespace), "" when absent.
func attrValue(start xml.StartElement, name string) string {
	for _, at := range start.Attr {
		if at.Name.Space == "" && at.Name.Local == name {
			return at.Value
		}
	}
	return ""
}
