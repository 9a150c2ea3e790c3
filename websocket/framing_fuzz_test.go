package websocket

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

// FuzzScanMessage checks the message validator against encoding/xml, the
// decoder the server reads the stream with: what the validator accepts, the
// decoder reads as exactly one element; and for ASCII input without
// character references, what the decoder reads as one element without
// comments, processing instructions or directives, the validator accepts.
// The header made of an accepted <open/> must parse too.
func FuzzScanMessage(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.msg))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m message
		ferr := scanMessage(b, &m)
		if ferr != nil {
			if ferr.Condition == "" || ferr.Text == "" {
				t.Fatalf("an error without condition or text: %+v", ferr)
			}
			// encoding/xml takes attributes without space between them; XML does not.
			stricter := ferr.Condition == CondInvalidNamespace || ferr.Text == "no space before an attribute"
			if ok, _ := oneElement(b); ok && !stricter && isASCII(b) && !bytes.Contains(b, []byte("&#")) && !bytes.Contains(b, []byte("<?xml")) {
				t.Fatalf("refused (%v) what encoding/xml reads as one element: %q", ferr, b)
			}
			return
		}
		if m.start < 0 || m.start > m.end || m.end > len(b) {
			t.Fatalf("bounds %d:%d of %d", m.start, m.end, len(b))
		}
		el := b[m.start:m.end]
		if ok, err := oneElement(el); !ok && isASCII(el) && !bytes.Contains(el, []byte("&#")) {
			t.Fatalf("accepted what encoding/xml does not read as one element (%v): %q", err, el)
		}
		if m.kind == kindOpen {
			h := appendHeader(nil, b, &m)
			d := xml.NewDecoder(bytes.NewReader(append(h, "</stream:stream>"...)))
			for {
				if _, err := d.Token(); err == io.EOF {
					break
				} else if err != nil && isASCII(b) && !bytes.Contains(b, []byte("&#")) {
					t.Fatalf("header %q of %q: %v", h, b, err)
				} else if err != nil {
					break
				}
			}
		}
	})
}

// oneElement reports whether encoding/xml reads b as exactly one element
// with nothing but whitespace around it, in XML a stream may carry.
func oneElement(b []byte) (bool, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, elements := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return elements == 1 && depth == 0, nil
		}
		if err != nil {
			return false, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				elements++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
				return false, nil
			}
		default:
			return false, nil
		}
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
