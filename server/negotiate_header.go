package server

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// readStreamHeader reads a new stream's header from d: an optional XML
// declaration and whitespace, then <stream:stream> (whatever prefix the
// client binds to the streams namespace). A client that ends its stream
// instead (after SASL, say) gets io.EOF; one that sends a stream error, that
// stream.Error.
func readStreamHeader(d *xmltok.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			var syn *xml.SyntaxError
			if asSyntaxError(err, &syn) && strings.HasPrefix(syn.Msg, "unexpected end element </") {
				// </stream:stream> on a new stream: the client is done.
				return xml.StartElement{}, io.EOF
			}
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" {
				return xml.StartElement{}, errProcInst
			}
		case xml.CharData:
			if len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
				return xml.StartElement{}, errStreamText
			}
		case xml.StartElement:
			switch t.Name {
			case xml.Name{Space: stream.NS, Local: "stream"}:
				return t, nil
			case xml.Name{Space: stream.NS, Local: "error"}:
				var se stream.Error
				if err := d.DecodeElement(&se, &t); err != nil {
					return xml.StartElement{}, err
				}
				return xml.StartElement{}, se
			}
			return xml.StartElement{}, &clientError{condInvalidNamespace, "not a stream header"}
		case xml.Comment:
			return xml.StartElement{}, errComment
		default:
			return xml.StartElement{}, errDirective
		}
	}
}

func asSyntaxError(err error, target **xml.SyntaxError) bool {
	se, ok := err.(*xml.SyntaxError)
	if ok {
		*target = se
	}
	return ok
}

// streamHeader is what the server takes from the client's stream header.
type streamHeader struct {
	to   jid.JID
	host *host  // the host 'to' names, when served found it (then to is its domain)
	from string // the client's 'from', echoed as 'to'; never an identity
}

// checkStreamHeader checks a c2s stream header as RFC 6120 section 4.7 asks,
// in mellium's order: addresses that are not JIDs are improper-addressing, a
// version that is not one is bad-format, one whose major number is not 1
// (or none: a pre-RFC 3920 client) unsupported-version, a default namespace
// other than jabber:client invalid-namespace. served, when not nil, finds
// the host a 'to' names exactly as written (which needs no parsing).
func checkStreamHeader(start xml.StartElement, served func(to string) *host) (streamHeader, error) {
	var h streamHeader
	xmlns, version := "", ""
	hasVersion := false
	for _, a := range start.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "xmlns":
			xmlns = a.Value
		case "to":
			if a.Value == "" {
				continue // no host: host-unknown
			}
			if served != nil {
				if h.host = served(a.Value); h.host != nil {
					h.to = h.host.domain
					continue
				}
			}
			to, err := jid.Parse(a.Value)
			if err != nil {
				return h, &clientError{condImproperAddressing, "'to' is not a JID"}
			}
			h.to, h.host = to, nil
		case "from":
			if a.Value == "" {
				continue
			}
			from, err := jid.Parse(a.Value)
			if err != nil {
				return h, &clientError{condImproperAddressing, "'from' is not a JID"}
			}
			h.from = from.String()
		case "version":
			version, hasVersion = a.Value, true
		}
	}
	if hasVersion {
		major, ok := parseVersion(version)
		if !ok {
			return h, &clientError{condBadFormat, "'version' is not a version"}
		}
		if major != 1 {
			return h, &clientError{condUnsupportedVersion, "version 1.0 only"}
		}
	} else {
		return h, &clientError{condUnsupportedVersion, "version 1.0 only"}
	}
	if xmlns != nsClient {
		return h, &clientError{condInvalidNamespace, "the default namespace is not jabber:client"}
	}
	return h, nil
}

// parseVersion parses "major.minor" (RFC 6120 section 4.7.5: two
// non-negative integers); a 1.x version is spoken as 1.0.
func parseVersion(v string) (major int, ok bool) {
	dot := strings.IndexByte(v, '.')
	if dot <= 0 || dot == len(v)-1 || len(v) > 16 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if i != dot && (v[i] < '0' || v[i] > '9') {
			return 0, false
		}
	}
	for _, c := range v[:dot] {
		major = major*10 + int(c-'0')
	}
	return major, true
}

// headerHost is the served host a header's 'to' names, or nil.
func (s *Server) headerHost(h streamHeader) *host {
	if h.host != nil {
		return h.host
	}
	if h.to.Localpart() != "" || h.to.Resourcepart() != "" {
		return nil
	}
	return s.lookupHost(h.to.Domainpart())
}

// servedHost returns the host to names when to is written as the host's
// JID is (lower case, no trailing dot, ...), what almost every client sends:
// jid.Parse of it (IDNA) would give that same domain, and cost a tenth of
// reading the header. Anything else is parsed.
func (s *Server) servedHost(to string) *host {
	if h := s.hosts[to]; h != nil && h.domain.Domainpart() == to {
		return h
	}
	return nil
}
