package server

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"

	"mellium.im/xmpp/stream"
)

// streamReader reads a bound session's stream with an xml.Decoder of
// xtokend's own, so that once negotiation is over mellium's *xmpp.Session,
// with its encoder's 4 KB buffer and its decoder, can be collected: an idle
// session then holds only this decoder and its countConn.
//
// The decoder is primed with the stream header the client actually sent
// (recorded by countConn), so the namespaces and the prefix the client
// declared there are the ones stanzas are read with: a client that calls the
// streams namespace "s" ends its stream with </s:stream>, and that is a clean
// end, not bad XML.
//
// Like mellium's own stream reader it turns the stream's end into io.EOF and
// a <stream:error/> into a stream.Error, and refuses text, other elements in
// the streams namespace at the top of the stream, comments, processing
// instructions and directives.
type streamReader struct {
	d     *xml.Decoder
	depth int
}

// Errors from the stream level, worded as mellium's stream reader words them.
var (
	errUnknownStreamElement = errors.New("server: unknown stream level element")
	errUnexpectedRestart    = errors.New("server: unexpected stream restart")
	errStreamText           = errors.New("server: unexpected stream-level chardata")
	errProcInst             = errors.New("server: disallowed XML proc inst encountered")
	errComment              = errors.New("server: disallowed XML comment encountered")
	errDirective            = errors.New("server: disallowed XML directive encountered")
)

var errBadHeader = errors.New("server: the recorded stream header is not a stream header alone")

// newStreamReader reads the stream on r, whose header was already read
// during negotiation: header is what countConn recorded, an optional XML
// declaration, whitespace and the header as the client sent it, and nothing
// else (checked here, so that nothing but the header is read from it).
func newStreamReader(r io.Reader, header []byte) (*streamReader, error) {
	// Nothing is read from r until the header has been decoded: a header cut
	// short ends at the header's end, not by waiting on the connection.
	p := &primedReader{prefix: header}
	d := xml.NewDecoder(p)
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" {
				return nil, errBadHeader
			}
		case xml.CharData:
			if len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
				return nil, errBadHeader
			}
		case xml.StartElement:
			if t.Name != (xml.Name{Space: stream.NS, Local: "stream"}) || len(p.prefix) != 0 {
				return nil, errBadHeader
			}
			p.r = r
			return &streamReader{d: d}, nil
		default:
			return nil, errBadHeader
		}
	}
}

// Token returns the next token inside the stream.
func (r *streamReader) Token() (xml.Token, error) {
	tok, err := r.d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if r.depth == 0 && t.Name.Space == stream.NS {
			switch t.Name.Local {
			case "error":
				var e stream.Error
				if err := r.d.DecodeElement(&e, &t); err != nil {
					return nil, err
				}
				return nil, e
			case "stream":
				return nil, errUnexpectedRestart
			}
			return nil, errUnknownStreamElement
		}
		r.depth++
	case xml.EndElement:
		if r.depth == 0 {
			// The decoder matched it with the primed header: the stream's end.
			return nil, io.EOF
		}
		r.depth--
	case xml.CharData:
		if r.depth == 0 && len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
			return nil, errStreamText
		}
	case xml.ProcInst:
		return nil, errProcInst
	case xml.Comment:
		return nil, errComment
	case xml.Directive:
		return nil, errDirective
	}
	return tok, nil
}

// primedReader serves prefix, then r. It is an io.ByteReader so that the
// decoder reads through countConn byte by byte (its count is the limit).
type primedReader struct {
	prefix []byte
	r      io.Reader
}

func (p *primedReader) ReadByte() (byte, error) {
	if len(p.prefix) > 0 {
		b := p.prefix[0]
		p.prefix = p.prefix[1:]
		if len(p.prefix) == 0 {
			p.prefix = nil
		}
		return b, nil
	}
	if p.r == nil {
		return 0, io.EOF
	}
	if br, ok := p.r.(io.ByteReader); ok {
		return br.ReadByte()
	}
	var one [1]byte
	if _, err := io.ReadFull(p.r, one[:]); err != nil {
		return 0, err
	}
	return one[0], nil
}

func (p *primedReader) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	if p.r == nil {
		return 0, io.EOF
	}
	return p.r.Read(b)
}
