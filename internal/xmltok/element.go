package xmltok

import (
	"encoding/xml"
	"io"
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
func (d *Decoder) DecodeElement(v any, start *xml.StartElement) error {
	toks := []xml.Token{start.Copy()}
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
		toks = append(toks, xml.CopyToken(tok))
	}
	return xml.NewTokenDecoder(&tokens{toks: toks}).Decode(v)
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
