package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The load tool reads the server's side of an XMPP stream with this scanner instead of an
// XML decoder: it only has to find where each child of <stream:stream> ends, and it does so
// on the bytes in its buffer without allocating. It does not check well-formedness beyond
// what it needs to delimit elements; the servers under test are trusted to send XML.

// kind says what a scanned item is.
type kind uint8

const (
	kindHeader kind = iota + 1 // the <stream:stream ...> start tag
	kindChild                  // a whole child element of the stream
	kindEnd                    // </stream:stream>
	kindSkip                   // whitespace or a processing instruction between children (internal)
)

// element is one scanned item. Raw and Name alias the scanner's buffer and are valid until
// the next call to next.
type element struct {
	Kind kind
	Name []byte // qualified name of the outermost tag, e.g. "stream:features"
	Raw  []byte // the whole element (for a header: the start tag)
}

// Local returns the name without its prefix.
func (e element) Local() []byte {
	if i := bytes.IndexByte(e.Name, ':'); i >= 0 {
		return e.Name[i+1:]
	}
	return e.Name
}

// Is reports whether the element's local name is name.
func (e element) Is(name string) bool { return string(e.Local()) == name }

// errIncomplete is internal: the buffer ends inside an item.
var errIncomplete = errors.New("incomplete")

// scanner splits a stream into elements.
type scanner struct {
	r        io.Reader
	buf      []byte
	pos, end int // unread bytes are buf[pos:end]
	depth    int // 0 before the stream header, 1 inside the stream
	max      int // largest element accepted
	// ws: the stream is WebSocket framing (RFC 7395), whose header is a self-closed <open/>
	// and whose end is a <close/> element rather than an end tag.
	ws bool
}

func newScanner(r io.Reader, size, max int) *scanner {
	return &scanner{r: r, buf: make([]byte, size), max: max}
}

// reset starts a new stream (after STARTTLS or SASL) on r. Bytes already buffered are an
// error only when switching readers: they were sent before the TLS handshake.
func (s *scanner) reset(r io.Reader) error {
	if r != s.r && s.pos != s.end {
		return fmt.Errorf("scan: %d unexpected bytes before the TLS handshake", s.end-s.pos)
	}
	s.r = r
	s.depth = 0
	return nil
}

// next returns the next header, child or end of stream.
func (s *scanner) next() (element, error) {
	for {
		el, n, err := s.parse(s.buf[s.pos:s.end])
		switch {
		case err == nil:
			s.pos += n
			if el.Kind == kindSkip {
				continue
			}
			if s.ws && el.Kind == kindChild && el.Is("close") {
				el.Kind = kindEnd
				s.depth = 0
			}
			return el, nil
		case err != errIncomplete:
			return element{}, err
		}
		if err := s.fill(); err != nil {
			return element{}, err
		}
	}
}

// fill reads more bytes, moving unread ones to the front and growing the buffer when full.
func (s *scanner) fill() error {
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= s.max {
			return fmt.Errorf("scan: element larger than %d bytes", s.max)
		}
		grown := make([]byte, min(2*len(s.buf), s.max))
		copy(grown, s.buf[:s.end])
		s.buf = grown
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// parse reads one item from the start of data and says how many bytes it took.
func (s *scanner) parse(data []byte) (element, int, error) {
	i := bytes.IndexByte(data, '<')
	switch {
	case i < 0 && len(data) > 0:
		return element{Kind: kindSkip}, len(data), nil // text between children: keepalives
	case i < 0:
		return element{}, 0, errIncomplete
	case i > 0:
		return element{Kind: kindSkip}, i, nil
	}
	depth := s.depth
	var name []byte
	for {
		// data[i] == '<'
		if i+1 >= len(data) {
			return element{}, 0, errIncomplete
		}
		switch data[i+1] {
		case '?':
			j := bytes.Index(data[i:], []byte("?>"))
			if j < 0 {
				return element{}, 0, errIncomplete
			}
			i += j + 2
			if depth == s.depth {
				return element{Kind: kindSkip}, i, nil
			}
		case '!':
			end := "-->"
			if !bytes.HasPrefix(data[i:], []byte("<!--")) {
				end = "]]>"
				if len(data)-i < 9 {
					return element{}, 0, errIncomplete
				}
				if !bytes.HasPrefix(data[i:], []byte("<![CDATA[")) {
					return element{}, 0, fmt.Errorf("scan: unexpected markup %q", data[i:i+9])
				}
			}
			j := bytes.Index(data[i+2:], []byte(end))
			if j < 0 {
				return element{}, 0, errIncomplete
			}
			i += 2 + j + len(end)
			if depth == s.depth {
				return element{Kind: kindSkip}, i, nil
			}
		case '/':
			j := bytes.IndexByte(data[i:], '>')
			if j < 0 {
				return element{}, 0, errIncomplete
			}
			tagName := data[i+2 : i+j]
			i += j + 1
			depth--
			if depth < s.depth {
				if depth < 0 || s.depth != 1 {
					return element{}, 0, errors.New("scan: end tag before the stream header")
				}
				s.depth = 0
				return element{Kind: kindEnd, Name: bytes.TrimSpace(tagName), Raw: data[:i]}, i, nil
			}
			if depth == s.depth {
				return element{Kind: kindChild, Name: name, Raw: data[:i]}, i, nil
			}
		default:
			j := tagEnd(data[i:])
			if j < 0 {
				return element{}, 0, errIncomplete
			}
			tag := data[i : i+j+1]
			selfClosing := data[i+j-1] == '/'
			i += j + 1
			if name == nil {
				name = tagName(tag)
			}
			if s.depth == 0 {
				s.depth = 1
				return element{Kind: kindHeader, Name: name, Raw: data[:i]}, i, nil
			}
			if !selfClosing {
				depth++
			} else if depth == s.depth {
				return element{Kind: kindChild, Name: name, Raw: data[:i]}, i, nil
			}
		}
		// Text inside an element: skip to the next tag.
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			return element{}, 0, errIncomplete
		}
		i += j
	}
}

// tagEnd returns the index of the '>' that ends the tag at the start of data, skipping
// quoted attribute values, or -1 when data ends first.
func tagEnd(data []byte) int {
	var quote byte
	for i := 1; i < len(data); i++ {
		c := data[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return -1
}

// tagName returns the qualified name of a start tag "<name ...>".
func tagName(tag []byte) []byte {
	end := 1
	for end < len(tag) {
		switch tag[end] {
		case ' ', '\t', '\r', '\n', '/', '>':
			return tag[1:end]
		}
		end++
	}
	return tag[1:end]
}

// attr returns the value of attribute name in the first start tag of raw (no entity
// decoding: ids and types never need it here), or nil.
func attr(raw []byte, name string) []byte {
	end := tagEnd(raw)
	if end < 0 {
		return nil
	}
	tag := raw[:end]
	for i := 0; i < len(tag); {
		j := bytes.Index(tag[i:], []byte(name))
		if j < 0 {
			return nil
		}
		k := i + j
		i = k + len(name)
		if k == 0 || !isSpace(tag[k-1]) {
			continue
		}
		rest := tag[i:]
		for len(rest) > 0 && isSpace(rest[0]) {
			rest = rest[1:]
		}
		if len(rest) < 2 || rest[0] != '=' {
			continue
		}
		rest = rest[1:]
		for len(rest) > 0 && isSpace(rest[0]) {
			rest = rest[1:]
		}
		if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
			return nil
		}
		q := rest[0]
		v := rest[1:]
		e := bytes.IndexByte(v, q)
		if e < 0 {
			return nil
		}
		return v[:e]
	}
	return nil
}

// textOf returns the text between the first <name> ... </name> pair inside raw (prefixes
// not handled: the servers under test use the default namespace for <jid/>).
func textOf(raw []byte, name string) []byte {
	open := "<" + name + ">"
	i := bytes.Index(raw, []byte(open))
	if i < 0 {
		return nil
	}
	rest := raw[i+len(open):]
	j := bytes.Index(rest, []byte("</"+name+">"))
	if j < 0 {
		return nil
	}
	return rest[:j]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
