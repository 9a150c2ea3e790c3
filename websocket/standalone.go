package websocket

import "bytes"

// standaloneAttr says what an outgoing element needs to be parsable on its
// own (RFC 7395 section 3.3.3): the namespace declaration to insert at index
// at (right after the element's name), or "" when it needs none. A
// message, presence or iq without xmlns is in jabber:client, the stream's
// default namespace; an element with the stream: prefix needs the prefix
// declared. The server's own bytes are well-formed, so reading the start tag
// is enough.
func standaloneAttr(b []byte) (at int, attr string) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '<' {
		return 0, ""
	}
	name, j := readName(b, i+1)
	var want string
	switch string(b[name.i:name.j]) {
	case "message", "presence", "iq":
		want = "xmlns"
	default:
		if !bytes.HasPrefix(b[name.i:name.j], []byte("stream:")) {
			return 0, ""
		}
		want = "xmlns:stream"
	}
	// Look for the declaration among the attributes.
	for k := j; k < len(b); {
		k = skipSpace(b, k)
		if k >= len(b) || b[k] == '>' || b[k] == '/' {
			break
		}
		an, e := readName(b, k)
		if an.i == an.j {
			break
		}
		if string(b[an.i:an.j]) == want {
			return 0, ""
		}
		e = skipSpace(b, e)
		if e >= len(b) || b[e] != '=' {
			break
		}
		e = skipSpace(b, e+1)
		if e >= len(b) || (b[e] != '"' && b[e] != '\'') {
			break
		}
		q := bytes.IndexByte(b[e+1:], b[e])
		if q < 0 {
			break
		}
		k = e + 1 + q + 1
	}
	if want == "xmlns" {
		return j, ` xmlns="` + NSClient + `"`
	}
	return j, ` xmlns:stream="` + NSStream + `"`
}
