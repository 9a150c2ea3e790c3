package websocket

import (
	"bytes"
	"unicode/utf8"
)

// Namespaces of RFC 7395 and RFC 6120.
const (
	NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"
	NSClient  = "jabber:client"
	NSStream  = "http://etherx.jabber.org/streams"
)

// Stream error conditions (RFC 6120 section 4.9.3) that a FramingError carries.
const (
	CondNotWellFormed    = "not-well-formed"
	CondRestrictedXML    = "restricted-xml"
	CondInvalidNamespace = "invalid-namespace"
	CondPolicyViolation  = "policy-violation"
)

// FramingError is an incoming WebSocket message that RFC 7395 does not allow:
// not exactly one complete, well-formed element (not-well-formed), XML that
// RFC 6120 section 11.1 forbids in a stream (restricted-xml), a first
// message that is not <open/> or an <open/>/<close/> outside the framing
// namespace (invalid-namespace), or a message over the size limit
// (policy-violation). The server answers it with the stream error of
// Condition, then <close/>.
type FramingError struct {
	Condition string
	Text      string
}

func (e *FramingError) Error() string {
	return "websocket: " + e.Condition + ": " + e.Text
}

func notWellFormed(text string) *FramingError {
	return &FramingError{Condition: CondNotWellFormed, Text: text}
}

func restricted(text string) *FramingError {
	return &FramingError{Condition: CondRestrictedXML, Text: text}
}

var errPartial = notWellFormed("the message ends inside an element (one complete element per message)")

// Kinds of message.
const (
	kindElement = iota // a stanza or other element, passed on as it is
	kindOpen           // <open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>
	kindClose          // <close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>
)

// span is b[i:j] of the message.
type span struct{ i, j int }

// The attributes of <open/> that become the stream header's (RFC 6120
// section 4.7), in the order they are written.
var openAttrNames = [...]string{"to", "from", "id", "version", "xml:lang"}

// message is what scanMessage learns of one incoming message.
type message struct {
	kind       int
	start, end int // the element, without surrounding whitespace
	// For kindOpen: the raw values of openAttrNames, and their quotes.
	attr  [len(openAttrNames)]span
	quote [len(openAttrNames)]byte
	has   [len(openAttrNames)]bool
}

// scanMessage checks that b is exactly one complete, well-formed element
// (whitespace around it, and an XML declaration before it, allowed) in the
// XML that RFC 6120 allows in a stream, and classifies it. It is a single
// pass that allocates nothing for a valid message of ordinary depth; what it
// leaves to the server's XML decoder is what that decoder checks anyway
// (namespace prefixes, duplicate attributes, character references' values).
func scanMessage(b []byte, m *message) *FramingError {
	*m = message{}
	if !utf8.Valid(b) {
		return notWellFormed("the message is not UTF-8")
	}
	i := skipSpace(b, 0)
	if bytes.HasPrefix(b[i:], []byte("<?xml")) && i+5 < len(b) && isSpace(b[i+5]) {
		k := bytes.Index(b[i:], []byte("?>"))
		if k < 0 {
			return errPartial
		}
		i = skipSpace(b, i+k+2)
	}
	if i == len(b) {
		return notWellFormed("the message has no element")
	}
	if b[i] != '<' {
		return notWellFormed("text outside the element")
	}
	m.start = i

	var stackArr [16]span
	stack := stackArr[:0] // names of the open elements
	root := true
	for {
		// b[i] == '<'
		if i+1 >= len(b) {
			return errPartial
		}
		switch b[i+1] {
		case '/':
			name, j := readName(b, i+2)
			if name.i == name.j {
				if j >= len(b) {
					return errPartial
				}
				return notWellFormed("an end tag without a name")
			}
			j = skipSpace(b, j)
			if j >= len(b) {
				return errPartial
			}
			if b[j] != '>' {
				return notWellFormed("a malformed end tag")
			}
			if len(stack) == 0 {
				return notWellFormed("an end tag without a start tag")
			}
			top := stack[len(stack)-1]
			if !bytes.Equal(b[top.i:top.j], b[name.i:name.j]) {
				return notWellFormed("an end tag that does not match its start tag")
			}
			stack = stack[:len(stack)-1]
			i = j + 1
			if len(stack) == 0 {
				m.end = i
				return checkTrailer(b, i)
			}
		case '!':
			switch {
			case bytes.HasPrefix(b[i:], []byte("<![CDATA[")) && !root:
				k := bytes.Index(b[i+9:], []byte("]]>"))
				if k < 0 {
					return errPartial
				}
				i += 9 + k + 3
			case bytes.HasPrefix(b[i:], []byte("<!--")):
				return restricted("a comment")
			case len(b)-i < 9 && (bytes.HasPrefix([]byte("<!--"), b[i:]) || bytes.HasPrefix([]byte("<![CDATA["), b[i:])):
				return errPartial
			default:
				return restricted("a DTD or markup declaration")
			}
		case '?':
			return restricted("a processing instruction")
		default:
			name, j := readName(b, i+1)
			if name.i == name.j {
				if j >= len(b) {
					return errPartial
				}
				return notWellFormed("'<' not followed by a name")
			}
			var nsDecl span // the root's namespace declaration for its prefix
			hasNS := false
			selfClosed := false
			for {
				k := skipSpace(b, j)
				if k >= len(b) {
					return errPartial
				}
				if b[k] == '>' {
					stack = append(stack, name)
					i = k + 1
					break
				}
				if b[k] == '/' {
					if k+1 >= len(b) {
						return errPartial
					}
					if b[k+1] != '>' {
						return notWellFormed("'/' not followed by '>' in a tag")
					}
					selfClosed = true
					i = k + 2
					break
				}
				if k == j {
					return notWellFormed("no space before an attribute")
				}
				an, k2 := readName(b, k)
				if an.i == an.j {
					if k2 >= len(b) {
						return errPartial
					}
					return notWellFormed("a malformed attribute")
				}
				k2 = skipSpace(b, k2)
				if k2 >= len(b) {
					return errPartial
				}
				if b[k2] != '=' {
					return notWellFormed("an attribute without '='")
				}
				k2 = skipSpace(b, k2+1)
				if k2 >= len(b) {
					return errPartial
				}
				q := b[k2]
				if q != '"' && q != '\'' {
					return notWellFormed("an attribute value without quotes")
				}
				end, err := scanText(b, k2+1, q)
				if err != nil {
					return err
				}
				if root {
					val := span{k2 + 1, end}
					if isNSDecl(b, an, name) {
						nsDecl, hasNS = val, true
					}
					for n, s := range openAttrNames {
						if string(b[an.i:an.j]) == s {
							m.attr[n], m.quote[n], m.has[n] = val, q, true
						}
					}
				}
				j = end + 1
			}
			if root {
				root = false
				if err := classify(b, name, nsDecl, hasNS, m); err != nil {
					return err
				}
			}
			if selfClosed && len(stack) == 0 {
				m.end = i
				return checkTrailer(b, i)
			}
		}
		// Character data up to the next tag.
		k, err := scanText(b, i, '<')
		if err != nil {
			return err
		}
		i = k
	}
}

// scanText checks character data (or an attribute value) from b[i] up to the
// byte stop, and returns stop's index: references must be the predefined
// entities or character references, and no '<' in an attribute value.
func scanText(b []byte, i int, stop byte) (int, *FramingError) {
	for ; i < len(b); i++ {
		c := b[i]
		if c >= 0x80 || textOK[c] {
			continue
		}
		switch {
		case c == stop:
			return i, nil
		case c == '<':
			return 0, notWellFormed("'<' in an attribute value")
		case c == '&':
			n, err := scanRef(b, i)
			if err != nil {
				return 0, err
			}
			i += n - 1
		case c == '>' || c == '"' || c == '\'':
			// Allowed in text and in the other quote's values.
		default:
			return 0, notWellFormed("a control character")
		}
	}
	return 0, errPartial
}

// textOK are the ASCII bytes character data takes without a second look.
var textOK = func() (t [128]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = true
	}
	t['\t'], t['\n'], t['\r'] = true, true, true
	for _, c := range "<&>\"'" {
		t[c] = false
	}
	return t
}()

// scanRef checks the reference at b[i] == '&' and returns its length.
func scanRef(b []byte, i int) (int, *FramingError) {
	semi := bytes.IndexByte(b[i:min(len(b), i+16)], ';')
	if semi < 0 {
		if len(b)-i < 16 {
			return 0, errPartial
		}
		return 0, notWellFormed("'&' that starts no reference")
	}
	ref := b[i+1 : i+semi]
	switch string(ref) {
	case "lt", "gt", "amp", "apos", "quot":
		return semi + 1, nil
	}
	if len(ref) > 1 && ref[0] == '#' {
		digits, hex := ref[1:], false
		if digits[0] == 'x' {
			digits, hex = digits[1:], true
		}
		if len(digits) == 0 {
			return 0, notWellFormed("an empty character reference")
		}
		for _, c := range digits {
			if !('0' <= c && c <= '9' || hex && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')) {
				return 0, notWellFormed("a malformed character reference")
			}
		}
		return semi + 1, nil
	}
	if n, _ := readName(ref, 0); n.j == len(ref) && len(ref) > 0 {
		return 0, restricted("an entity reference")
	}
	return 0, notWellFormed("'&' that starts no reference")
}

// classify sets m.kind from the root element's name and namespace.
func classify(b []byte, name, ns span, hasNS bool, m *message) *FramingError {
	local := b[name.i:name.j]
	if k := bytes.IndexByte(local, ':'); k >= 0 {
		local = local[k+1:]
	}
	kind := kindElement
	switch string(local) {
	case "open":
		kind = kindOpen
	case "close":
		kind = kindClose
	default:
		return nil
	}
	if !hasNS || string(b[ns.i:ns.j]) != NSFraming {
		return &FramingError{Condition: CondInvalidNamespace, Text: "<" + string(local) + "/> must be in the namespace " + NSFraming}
	}
	m.kind = kind
	return nil
}

// isNSDecl reports whether attribute a declares the namespace of element name:
// xmlns for an unprefixed name, xmlns:p for p:name.
func isNSDecl(b []byte, a, name span) bool {
	an, el := b[a.i:a.j], b[name.i:name.j]
	k := bytes.IndexByte(el, ':')
	if k < 0 {
		return string(an) == "xmlns"
	}
	return len(an) == 6+k && string(an[:6]) == "xmlns:" && bytes.Equal(an[6:], el[:k])
}

// checkTrailer allows only whitespace after the element.
func checkTrailer(b []byte, i int) *FramingError {
	i = skipSpace(b, i)
	switch {
	case i == len(b):
		return nil
	case b[i] == '<':
		return notWellFormed("more than one element in a message")
	}
	return notWellFormed("text after the element")
}

// readName returns the XML name at b[i:] (empty if there is none) and the
// index after it. Any non-ASCII byte counts as a name character: the
// server's decoder checks names strictly.
func readName(b []byte, i int) (span, int) {
	j := i
	for j < len(b) {
		c := b[j]
		if c >= 0x80 || nameChar[c] && (j > i || !('0' <= c && c <= '9' || c == '-' || c == '.')) {
			j++
			continue
		}
		break
	}
	return span{i, j}, j
}

var nameChar = func() (t [128]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['_'], t[':'], t['-'], t['.'] = true, true, true, true
	return t
}()

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// appendHeader appends the stream header that <open/> stands for: the
// attributes of RFC 6120 section 4.7 copied with their escaping (a value in
// single quotes gets its double quotes escaped).
func appendHeader(dst, b []byte, m *message) []byte {
	dst = append(dst, `<stream:stream xmlns="`+NSClient+`" xmlns:stream="`+NSStream+`"`...)
	for n, name := range openAttrNames {
		if !m.has[n] {
			continue
		}
		dst = append(dst, ' ')
		dst = append(dst, name...)
		dst = append(dst, '=', '"')
		v := b[m.attr[n].i:m.attr[n].j]
		if m.quote[n] == '"' {
			dst = append(dst, v...)
		} else {
			for _, c := range v {
				if c == '"' {
					dst = append(dst, "&quot;"...)
				} else {
					dst = append(dst, c)
				}
			}
		}
		dst = append(dst, '"')
	}
	return append(dst, '>')
}
