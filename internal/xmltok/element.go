package xmltok

import (
	"encoding/xml"
	"io"
	"slices"
)

// Skip reads tokens up to the end of the element whose start was the last
// token read, as encoding/xml's Decoder.Skip.
func (d *Decoder) Skip() error {
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

// DecodeElement reads the rest of the element start opened and unmarshals
// it into v as encoding/xml's Decoder.DecodeElement would: the element's
// tokens are collected (bounded by what the source lets through) and
// handed to encoding/xml. For the rare elements read so (a stream error).
//
// The names handed over are translated already, and encoding/xml translates
// what it is given again: so the namespace declarations are left out of the
// attributes handed over, or a namespace named like a prefix the element
// declares (xmlns:foo='...' beside xmlns='foo') would take that prefix's
// value. v sees no xmlns attributes; every name's namespace is as the
// element wrote it.
func (d *Decoder) DecodeElement(v any, start *xml.StartElement) error {
	toks := []xml.Token{withoutDeclarations(start.Copy())}
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			tok = withoutDeclarations(t.Copy())
		case xml.EndElement:
			depth--
		default:
			tok = xml.CopyToken(tok)
		}
		toks = append(toks, tok)
	}
	return xml.NewTokenDecoder(&tokens{toks: toks}).Decode(v)
}

// withoutDeclarations drops t's namespace declarations, in place (t is a
// copy).
func withoutDeclarations(t xml.StartElement) xml.StartElement {
	t.Attr = slices.DeleteFunc(t.Attr, func(a xml.Attr) bool {
		return a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns"
	})
	return t
}

// tokens reads back a slice of tokens.
type tokens struct{ toks []xml.Token }

func (t *tokens) Token() (xml.Token, error) {
	if len(t.toks) == 0 {
		return nil, io.EOF
	}
	tok := t.toks[0]
	t.toks = t.toks[1:]
	return tok, nil
}
