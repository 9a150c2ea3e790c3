package server

import (
	"encoding/xml"
	"strconv"
	"time"
)

// The stream management elements a client sends, as read, and the ones the
// server answers with, as bytes (the negotiator's way: appended, no encoder).

// smElement is a stream management element from a client: its name and the
// attributes XEP-0198 gives it.
type smElement struct {
	name   string // enable, resume, r, a, or another name (an error)
	resume bool   // enable's resume ('true' or '1')
	previd string // resume's
	h      uint32 // a's and resume's
	hOK    bool   // h was present and a number
}

// readSMElement reads the rest of the element start opened (in nsSM) from
// r, which yields the tokens inside it.
func readSMElement(r xml.TokenReader, start xml.StartElement) (smElement, error) {
	if err := checkAttrs(start.Attr); err != nil {
		return smElement{}, err
	}
	el := smElement{name: start.Name.Local}
	for _, a := range start.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "resume":
			el.resume = a.Value == "true" || a.Value == "1"
		case "previd":
			el.previd = a.Value
		case "h":
			h, err := strconv.ParseUint(a.Value, 10, 32)
			el.h, el.hOK = uint32(h), err == nil
		}
	}
	for depth := 1; depth > 0; {
		tok, err := r.Token()
		if err != nil {
			return smElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := checkAttrs(t.Attr); err != nil {
				return smElement{}, err
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
		default:
			return smElement{}, &clientError{cond: "restricted-xml", text: "comments, processing instructions and DTDs are not allowed"}
		}
	}
	return el, nil
}

// Answers.
const (
	smFailedUnexpected = "<failed xmlns='" + nsSM + "'><unexpected-request xmlns='" + nsStanzas + "'/></failed>"
	smFailedBadRequest = "<failed xmlns='" + nsSM + "'><bad-request xmlns='" + nsStanzas + "'/></failed>"
)

// appendSMFailed appends <failed h><cond/></failed>, the answer to a resume
// that cannot be (h: what the server handled, when it knows).
func appendSMFailed(b []byte, cond string, h uint32, withH bool) []byte {
	b = append(b, "<failed xmlns='"+nsSM+"'"...)
	if withH {
		b = append(b, " h='"...)
		b = strconv.AppendUint(b, uint64(h), 10)
		b = append(b, '\'')
	}
	b = append(b, "><"...)
	b = append(b, cond...)
	return append(b, " xmlns='"+nsStanzas+"'/></failed>"...)
}

func appendSMAck(b []byte, h uint32) []byte {
	b = append(b, "<a xmlns='"+nsSM+"' h='"...)
	b = strconv.AppendUint(b, uint64(h), 10)
	return append(b, "'/>"...)
}

func appendSMEnabled(b []byte, id string, max time.Duration) []byte {
	b = append(b, "<enabled xmlns='"+nsSM+"'"...)
	if id != "" {
		b = append(b, " id='"...)
		b = append(b, id...)
		b = append(b, "' resume='true' max='"...)
		b = strconv.AppendInt(b, int64(max/time.Second), 10)
		b = append(b, '\'')
	}
	return append(b, "/>"...)
}

func appendSMResumed(b []byte, id string, h uint32) []byte {
	b = append(b, "<resumed xmlns='"+nsSM+"' previd='"...)
	b = append(b, id...)
	b = append(b, "' h='"...)
	b = strconv.AppendUint(b, uint64(h), 10)
	return append(b, "'/>"...)
}
