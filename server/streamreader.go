package server

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"

	"mellium.im/xmpp/stream"
)

// streamReader reads a bound session's stream with the xml.Decoder of xtokend's
// own negotiator (negotiate.go): the decoder of the last stream, which read the
// client's stream header after SASL and then the bind request, simply goes on
// as the session's stanza reader. So the namespaces and the prefix the client
// declared in its header are the ones stanzas are read with: a client that
// calls the streams namespace "s" ends its stream with </s:stream>, and that is
// a clean end, not bad XML.
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
			// The decoder matched it with the client's header: the stream's end.
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
