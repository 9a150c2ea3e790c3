package server

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"weak"

	"mellium.im/xmpp/stream"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// streamReader reads a bound session's stream with the decoder of xtokend's
// own negotiator (an xmltok.Decoder, which reads as encoding/xml reads): the
// decoder of the last stream, which read the client's stream header after
// SASL and then the bind request, simply goes on as the session's stanza
// reader. So the namespaces and the prefix the client
// declared in its header are the ones stanzas are read with: a client that
// calls the streams namespace "s" ends its stream with </s:stream>, and that is
// a clean end, not bad XML.
//
// Like mellium's own stream reader it turns the stream's end into io.EOF and
// a <stream:error/> into a stream.Error, and refuses text, other elements in
// the streams namespace at the top of the stream, comments, processing
// instructions and directives.
//
// An idle session lets go of its decoder (768 bytes, its stacks and buffer
// inside): idle keeps only a weak pointer to it, so that the garbage
// collector frees it if the wait outlasts a collection, and wake takes it
// back if it is still there (a client that sends again soon, a chat), or
// else primes a fresh one by putting a replay of the client's header
// (replayHeader: the same namespace declarations, the same stream prefix)
// ahead of the unread bytes. The fresh decoder then stands where the old one
// stood: the same namespaces in scope, the same element open, so the next
// stanza and the stream's end decode exactly as they would have. Priming
// costs a few allocations, paid only by sessions that were idle through a
// collection.
type streamReader struct {
	d *xmltok.Decoder // nil while idle
	// header is the replay of the client's header ("" when it cannot be
	// replayed exactly: the decoder is then kept while idle).
	header string
	// idleD is the decoder while idle, if the collector has not freed it.
	idleD weak.Pointer[xmltok.Decoder]
	// lines is how many lines the freed decoders read, and idleLines how
	// many the one idleD points to read: a syntax error's line number
	// counts from the stream's start, as it did.
	lines     int
	idleLines int32
	depth     int32
}

// unreader is a stream's source that can put bytes back ahead of those not
// read yet (countConn, wsReader).
type unreader interface {
	io.Reader
	unread(s string) error
}

// idle lets go of the decoder while the session waits for src, if the
// header can be replayed and src can take it back. Only between stanzas,
// with nothing buffered: the decoder holds no byte of its own then (it has
// just returned an end tag, which it reads to its '>' and no further), so
// a fresh one primed with the header is in the same state.
func (r *streamReader) idle(src io.Reader) {
	if r.header == "" || r.d == nil {
		return
	}
	if _, ok := src.(unreader); !ok {
		return
	}
	line, _ := r.d.InputPos()
	r.idleLines = int32(min(line-1, math.MaxInt32))
	r.idleD = weak.Make(r.d)
	r.d = nil
}

// errReplay: a replayed header did not decode as the stream's header (a bug).
var errReplay = errors.New("server: the replayed stream header did not decode")

// wake gives the session its decoder back after idle: the same one if the
// collector has not freed it, else a fresh one on src primed with the
// replayed header (it reads that, and nothing of the client's).
func (r *streamReader) wake(src io.Reader) error {
	if r.d != nil {
		return nil
	}
	d, idle := r.idleD.Value(), r.idleLines
	r.idleD, r.idleLines = weak.Pointer[xmltok.Decoder]{}, 0
	if d != nil {
		r.d = d // not collected: it goes on as it was
		return nil
	}
	r.lines += int(idle)
	if err := src.(unreader).unread(r.header); err != nil {
		return err
	}
	d = xmltok.NewDecoder(src)
	tok, err := d.Token()
	if err != nil {
		return fmt.Errorf("%w: %w", errReplay, err)
	}
	if t, ok := tok.(xml.StartElement); !ok || t.Name != (xml.Name{Space: stream.NS, Local: "stream"}) {
		return errReplay
	}
	r.d = d
	return nil
}

// maxReplayHeader bounds a replay: a header with a long list of
// declarations has none, and its session keeps its decoder.
const maxReplayHeader = 512

// commonHeader is the replay of the header nearly every client sends.
const commonHeader = `<stream:stream xmlns="` + nsClient + `" xmlns:stream="` + stream.NS + `">`

// replayHeader returns a stream header that leaves a fresh decoder as the
// client's header start left the session's: the namespace declarations in
// their order, and the element under the prefix the client gave it. That
// prefix is the one whose last declaration is the streams namespace (the
// decoder translated the element's name with it); when two are, which one
// the client used is not known, and there is no replay (""). Attributes
// other than declarations change nothing in the decoder and are left out.
func replayHeader(start xml.StartElement) string {
	if start.Name != (xml.Name{Space: stream.NS, Local: "stream"}) {
		return ""
	}
	prefix, found, decls := "", 0, 0
	defaultNS := ""
	for i, a := range start.Attr {
		p, ok := declared(a)
		if !ok {
			continue
		}
		decls++
		if p == "" {
			defaultNS = a.Value
		}
		if a.Value != stream.NS || redeclared(start.Attr[i+1:], p) {
			continue
		}
		prefix = p
		found++
	}
	if found != 1 {
		return ""
	}
	if decls == 2 && prefix == "stream" && defaultNS == nsClient {
		return commonHeader
	}
	b := make([]byte, 0, 128)
	b = append(b, '<')
	if prefix != "" {
		b = append(append(b, prefix...), ':')
	}
	b = append(b, "stream"...)
	for _, a := range start.Attr {
		p, ok := declared(a)
		if !ok {
			continue
		}
		b = append(b, " xmlns"...)
		if a.Name.Space != "" {
			b = append(append(b, ':'), p...)
		}
		b = appendEscaped(append(b, `="`...), a.Value) // line ends as references: the replay is one line
		b = append(b, '"')
	}
	b = append(b, '>')
	if len(b) > maxReplayHeader {
		return ""
	}
	return string(b)
}

// declared says whether a is a namespace declaration, and of which prefix
// ("" for the default namespace), as the decoder reads declarations.
func declared(a xml.Attr) (prefix string, ok bool) {
	switch {
	case a.Name.Space == "xmlns":
		return a.Name.Local, true
	case a.Name.Space == "" && a.Name.Local == "xmlns":
		return "", true
	}
	return "", false
}

// redeclared says whether attrs declare prefix again.
func redeclared(attrs []xml.Attr, prefix string) bool {
	for _, a := range attrs {
		if p, ok := declared(a); ok && p == prefix {
			return true
		}
	}
	return false
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
		return nil, r.fromStart(err)
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if r.depth == 0 && t.Name.Space == stream.NS {
			switch t.Name.Local {
			case "error":
				var e stream.Error
				if err := r.d.DecodeElement(&e, &t); err != nil {
					return nil, r.fromStart(err)
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

// fromStart numbers a syntax error's line from the stream's start, not from
// the current decoder's (see idle).
func (r *streamReader) fromStart(err error) error {
	if syn, ok := err.(*xml.SyntaxError); ok && r.lines > 0 {
		return &xml.SyntaxError{Msg: syn.Msg, Line: syn.Line + r.lines}
	}
	return err
}
