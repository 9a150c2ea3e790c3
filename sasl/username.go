package sasl

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// maxLocalpart is RFC 7622's limit on a localpart, in bytes.
const maxLocalpart = 1023

// normalizeUsername returns the node that the SASL username authcid logs in
// as: authcid through PRECIS UsernameCaseMapped (RFC 8265), refused if it
// cannot be a JID localpart (RFC 7622 section 3.3). This is what mellium's
// jid.New does with a localpart. The result is authcid itself or is appended
// to buf; it is only valid until buf's next use.
//
// Most usernames are printable ASCII: for those the profile only maps upper
// case to lower case, so they skip the general (allocating) path.
func normalizeUsername(buf, authcid []byte) ([]byte, *Error) {
	if len(authcid) == 0 {
		return nil, errEmptyUsername
	}
	ascii, upper := true, false
	for _, c := range authcid {
		switch {
		case c < 0x21 || c > 0x7e:
			ascii = false
		case c >= 'A' && c <= 'Z':
			upper = true
		case forbiddenInLocalpart[c]:
			return nil, errInvalidUsername
		}
		if !ascii {
			break
		}
	}
	if ascii {
		if len(authcid) > maxLocalpart {
			return nil, errInvalidUsername
		}
		if !upper {
			return authcid, nil
		}
		node := append(buf[:0], authcid...)
		for i, c := range node {
			if c >= 'A' && c <= 'Z' {
				node[i] = c + 'a' - 'A'
			}
		}
		return node, nil
	}
	if !utf8.Valid(authcid) {
		return nil, errInvalidUsername
	}
	node, err := precis.UsernameCaseMapped.Append(buf[:0], authcid)
	if err != nil || len(node) == 0 || len(node) > maxLocalpart || bytes.ContainsAny(node, forbiddenChars) {
		return nil, errInvalidUsername
	}
	return node, nil
}

// forbiddenChars may not be in a localpart though PRECIS allows them
// (RFC 7622 section 3.3.1).
const forbiddenChars = `"&'/:<>@`

var forbiddenInLocalpart = func() (t [256]bool) {
	for _, c := range []byte(forbiddenChars) {
		t[c] = true
	}
	return t
}()
