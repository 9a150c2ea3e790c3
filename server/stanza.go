package server

import (
	"bytes"
	"encoding/xml"
	"fmt"

	"mellium.im/xmpp/stanza"
)

// xmlStanza is one top-level element read whole from a client: mellium's mux
// hands handlers one child at a time, routing needs the stanza.
type xmlStanza struct {
	routedHead                  // name ("message", "presence" or "iq") and addressing
	start      xml.StartElement // as read
	inner      []xml.Token      // the children, copied
	// toNorm is 'to' as the full JID of the local session it names, when
	// routing found one (st.to written exactly so); empty otherwise.
	toNorm string
}

// routedHead is what routing reads of a stanza's start tag: its name and
// its addressing attributes (those in no namespace).
type routedHead struct {
	name, to, from, typ, id string
}

// headOf reads the routing attributes of a stanza's start tag.
func headOf(start xml.StartElement) routedHead {
	h := routedHead{name: start.Name.Local}
	for _, a := range start.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "to":
			h.to = a.Value
		case "from":
			h.from = a.Value
		case "type":
			h.typ = a.Value
		case "id":
			h.id = a.Value
		}
	}
	return h
}

// readStanza reads the next top-level element from r.
func readStanza(r xml.TokenReader) (*xmlStanza, error) {
	start, err := readStart(r)
	if err != nil {
		return nil, err
	}
	return readStanzaFrom(r, start)
}

// readStart reads the start tag of the next top-level element from r.
func readStart(r xml.TokenReader) (xml.StartElement, error) {
	for {
		tok, err := r.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if t, ok := tok.(xml.StartElement); ok {
			if ownsTokens(r) {
				return t, nil
			}
			return t.Copy(), nil
		}
		// Whitespace between stanzas (the stream reader refuses anything else).
	}
}

// readStanzaFrom reads the rest of the stanza start opened.
func readStanzaFrom(r xml.TokenReader, start xml.StartElement) (*xmlStanza, error) {
	switch {
	case start.Name.Space != stanza.NSClient:
		return nil, &clientError{cond: condUnsupportedStanzaType, text: "unknown element in namespace " + start.Name.Space}
	case start.Name.Local != "message" && start.Name.Local != "presence" && start.Name.Local != "iq":
		return nil, &clientError{cond: condUnsupportedStanzaType, text: "unknown stanza " + start.Name.Local}
	}
	if err := checkAttrs(start.Attr); err != nil {
		return nil, err
	}
	// Room for a message's body (start, text, end) and a few more
	// children without growing.
	st := &xmlStanza{routedHead: headOf(start), start: start, inner: make([]xml.Token, 0, 8)}
	owned := ownsTokens(r)
	depth := 1
	for depth > 0 {
		tok, err := r.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := checkAttrs(t.Attr); err != nil {
				return nil, err
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 0 {
				return st, nil
			}
		case xml.CharData:
		default:
			// Comments, processing instructions and directives are not
			// allowed in XMPP (RFC 6120 section 11.1).
			return nil, &clientError{cond: "restricted-xml", text: "comments, processing instructions and DTDs are not allowed"}
		}
		if !owned {
			tok = xml.CopyToken(tok)
		} else if t, ok := tok.(xml.CharData); ok {
			tok = t.Copy()
		}
		st.inner = append(st.inner, tok)
	}
	return st, nil
}

// ownsTokens reports whether the caller may keep r's start and end tokens
// as they are: a session's streamReader, whose decoder (internal/xmltok)
// gives names as strings and every start tag its own Attr. Only its
// CharData is the decoder's buffer, and is copied.
func ownsTokens(r xml.TokenReader) bool {
	_, ok := r.(*streamReader)
	return ok
}

// firstChild returns the first child element's name and attributes.
func (st *xmlStanza) firstChild() (xml.StartElement, bool) {
	for _, t := range st.inner {
		if s, ok := t.(xml.StartElement); ok {
			return s, true
		}
	}
	return xml.StartElement{}, false
}

// childText returns the text of the first direct child named local in the
// stanza's namespace (e.g. presence/priority).
func (st *xmlStanza) childText(local string) (string, bool) {
	depth := 0
	in := false
	var text []byte
	for _, t := range st.inner {
		switch t := t.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && t.Name.Local == local && t.Name.Space == stanza.NSClient {
				in = true
			}
		case xml.EndElement:
			if depth == 1 && in {
				return string(text), true
			}
			depth--
		case xml.CharData:
			if in && depth == 1 {
				text = append(text, t...)
			}
		}
	}
	return "", false
}

// encodeXML is encode through encoding/xml's Encoder, for a stanza with an
// attribute in a namespace (a prefix the Encoder declares).
func (st *xmlStanza) encodeXML(from, to string) ([]byte, error) {
	var b bytes.Buffer
	e := xml.NewEncoder(&b)
	start := xml.StartElement{Name: xml.Name{Local: st.start.Name.Local}}
	if to != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "to"}, Value: to})
	}
	if from != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "from"}, Value: from})
	}
	for _, a := range st.start.Attr {
		if a.Name.Space == "" && (a.Name.Local == "to" || a.Name.Local == "from") {
			continue
		}
		if isNSDecl(a) {
			continue
		}
		start.Attr = append(start.Attr, a)
	}
	if err := e.EncodeToken(start); err != nil {
		return nil, err
	}
	// The default namespace in scope at each depth.
	scope := []string{stanza.NSClient}
	for _, t := range st.inner {
		switch tok := t.(type) {
		case xml.StartElement:
			parent := scope[len(scope)-1]
			out := xml.StartElement{Name: xml.Name{Local: tok.Name.Local}}
			if tok.Name.Space != parent {
				out.Attr = append(out.Attr, xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: tok.Name.Space})
			}
			for _, a := range tok.Attr {
				if !isNSDecl(a) {
					out.Attr = append(out.Attr, a)
				}
			}
			scope = append(scope, tok.Name.Space)
			t = out
		case xml.EndElement:
			scope = scope[:len(scope)-1]
			t = xml.EndElement{Name: xml.Name{Local: tok.Name.Local}}
		}
		if err := e.EncodeToken(t); err != nil {
			return nil, err
		}
	}
	if err := e.EncodeToken(start.End()); err != nil {
		return nil, err
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// stanzaError builds the error reply of RFC 6120 section 8.3 to a stanza:
// 'from' is the entity that was addressed, 'to' the sender.
func stanzaError(name, id, from, to string, typ stanza.ErrorType, cond stanza.Condition, text string) []byte {
	var b bytes.Buffer
	openStanza(&b, name, "error", id, from, to)
	fmt.Fprintf(&b, "<error type='%s'><%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>", typ, cond)
	if text != "" {
		b.WriteString("<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>")
		xml.EscapeText(&b, []byte(text))
		b.WriteString("</text>")
	}
	b.WriteString("</error></")
	b.WriteString(name)
	b.WriteString(">")
	return b.Bytes()
}

// openStanza writes a start tag in jabber:client; empty attributes are left out.
func openStanza(b *bytes.Buffer, name, typ, id, from, to string) {
	b.WriteString("<")
	b.WriteString(name)
	b.WriteString(" xmlns='jabber:client'")
	writeAttr(b, "type", typ)
	writeAttr(b, "id", id)
	writeAttr(b, "from", from)
	writeAttr(b, "to", to)
	b.WriteString(">")
}

func writeAttr(b *bytes.Buffer, name, value string) {
	if value == "" {
		return
	}
	b.WriteString(" ")
	b.WriteString(name)
	b.WriteString("='")
	xml.EscapeText(b, []byte(value))
	b.WriteString("'")
}

func isNSDecl(a xml.Attr) bool {
	return a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
}

// checkAttrs refuses a repeated attribute, which encoding/xml lets through
// but which would break every other client's parser once routed.
func checkAttrs(attrs []xml.Attr) error {
	for i := range attrs {
		for j := range i {
			if attrs[i].Name == attrs[j].Name {
				return &clientError{cond: condNotWellFormed, text: "attribute " + attrs[i].Name.Local + " repeated"}
			}
		}
	}
	return nil
}
