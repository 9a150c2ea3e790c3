package server

import (
	"encoding/xml"
	"unicode/utf8"

	"mellium.im/xmpp/stanza"
)

// Routing re-encodes every stanza (a new 'from', namespaces declared once).
// encoding/xml's Encoder costs a 4 KiB buffer and a dozen allocations per
// stanza; appendStanza writes the same bytes straight into one slice. It
// handles what stanzas hold: elements, attributes in no namespace or xml:
// (xml:lang), text. An attribute in another namespace (a prefix the Encoder
// would declare) is left to encodeXML.

// xmlNS is the namespace encoding/xml gives the xml: prefix.
const xmlNS = "http://www.w3.org/XML/1998/namespace"

// encode serializes the stanza with 'from' (and 'to', when not empty)
// replaced. It writes namespaces itself: a default namespace declaration
// only where an element's namespace differs from its parent's (the stream's
// is jabber:client), and none of the client's own declarations, which
// encoding/xml would otherwise repeat.
func (st *xmlStanza) encode(from, to string) ([]byte, error) {
	if !st.plainAttrs() {
		return st.encodeXML(from, to)
	}
	n := 64 + len(from) + len(to)
	for _, a := range st.start.Attr {
		n += len(a.Name.Local) + len(a.Value) + 8
	}
	for _, t := range st.inner {
		if c, ok := t.(xml.CharData); ok {
			n += len(c) + len(c)/8
		} else {
			n += 24
		}
	}
	b := make([]byte, 0, n)
	b = append(b, '<')
	b = append(b, st.start.Name.Local...)
	if to != "" {
		b = appendAttr(b, "", "to", to)
	}
	if from != "" {
		b = appendAttr(b, "", "from", from)
	}
	for _, a := range st.start.Attr {
		if a.Name.Space == "" && (a.Name.Local == "to" || a.Name.Local == "from") || isNSDecl(a) {
			continue
		}
		b = appendAttr(b, a.Name.Space, a.Name.Local, a.Value)
	}
	b = append(b, '>')
	// The default namespace in scope at each depth.
	var scopeArr [8]string
	scope := append(scopeArr[:0], stanza.NSClient)
	for _, t := range st.inner {
		switch tok := t.(type) {
		case xml.StartElement:
			b = append(b, '<')
			b = append(b, tok.Name.Local...)
			if tok.Name.Space != scope[len(scope)-1] {
				b = appendAttr(b, "", "xmlns", tok.Name.Space)
			}
			for _, a := range tok.Attr {
				if !isNSDecl(a) {
					b = appendAttr(b, a.Name.Space, a.Name.Local, a.Value)
				}
			}
			b = append(b, '>')
			scope = append(scope, tok.Name.Space)
		case xml.EndElement:
			scope = scope[:len(scope)-1]
			b = append(b, "</"...)
			b = append(b, tok.Name.Local...)
			b = append(b, '>')
		case xml.CharData:
			b = appendXMLEscaped(b, []byte(tok), false)
		}
	}
	b = append(b, "</"...)
	b = append(b, st.start.Name.Local...)
	return append(b, '>'), nil
}

// plainAttrs reports whether every attribute is in no namespace, xml:, or
// a namespace declaration: what appendStanza writes as encoding/xml would.
func (st *xmlStanza) plainAttrs() bool {
	plain := func(attrs []xml.Attr) bool {
		for _, a := range attrs {
			if a.Name.Space != "" && a.Name.Space != xmlNS && !isNSDecl(a) {
				return false
			}
		}
		return true
	}
	if !plain(st.start.Attr) {
		return false
	}
	for _, t := range st.inner {
		if s, ok := t.(xml.StartElement); ok && !plain(s.Attr) {
			return false
		}
	}
	return true
}

// appendAttr writes ` name="value"` (xml:name for the xml namespace), the
// value escaped as encoding/xml escapes attributes.
func appendAttr[T string | []byte](b []byte, space, name string, value T) []byte {
	b = append(b, ' ')
	if space == xmlNS {
		b = append(b, "xml:"...)
	}
	b = append(b, name...)
	b = append(b, `="`...)
	b = appendXMLEscaped(b, value, true)
	return append(b, '"')
}

// appendXMLEscaped escapes s as encoding/xml does (EscapeString for
// attributes, escapeNewline; text keeps its newlines): the five markup
// characters, tab and carriage return as references, and a character XML
// does not allow as U+FFFD.
func appendXMLEscaped[T string | []byte](b []byte, s T, escapeNewline bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		var esc string
		width := 1
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				esc = "&#34;"
			case '\'':
				esc = "&#39;"
			case '&':
				esc = "&amp;"
			case '<':
				esc = "&lt;"
			case '>':
				esc = "&gt;"
			case '\t':
				esc = "&#x9;"
			case '\n':
				if escapeNewline {
					esc = "&#xA;"
				}
			case '\r':
				esc = "&#xD;"
			default:
				if c < 0x20 {
					esc = "\uFFFD"
				}
			}
		} else {
			var r rune
			r, width = utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			if !isInCharacterRange(r) || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
			}
		}
		i += width
		if esc == "" {
			continue
		}
		b = append(b, s[last:i-width]...)
		b = append(b, esc...)
		last = i
	}
	return append(b, s[last:]...)
}

// isInCharacterRange is XML's Char production (encoding/xml's).
func isInCharacterRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
