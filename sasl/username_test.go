package sasl

import (
	"testing"

	"mellium.im/xmpp/jid"
)

// TestUsernameMatchesJID checks the ASCII fast path of normalizeUsername
// against mellium's jid.New for every pair of ASCII characters, and a few
// names that take the PRECIS path.
func TestUsernameMatchesJID(t *testing.T) {
	var names []string
	for a := 0; a < 128; a++ {
		names = append(names, string(rune(a)))
		for b := 0; b < 128; b++ {
			names = append(names, string([]byte{byte(a), byte(b)}))
		}
	}
	names = append(names, "Zoë", "ZOË", "Ａｌｉｃｅ", "ǅemal", "İstanbul", "ß", "ﬀ", "a\u0301", "\u0627\u0644", "a\u200db", "\U0001F600")
	var buf [16]byte
	for _, name := range names {
		got, err := normalizeUsername(buf[:0], []byte(name))
		j, jerr := jid.New(name, "localhost", "")
		if name == "" || j.Localpart() == "" {
			jerr = errEmptyUsername // jid.New takes "" as "no localpart"
		}
		switch {
		case (err == nil) != (jerr == nil):
			t.Errorf("normalizeUsername(%q) = %q, %v; jid.New: %q, %v", name, got, err, j.Localpart(), jerr)
		case err == nil && string(got) != j.Localpart():
			t.Errorf("normalizeUsername(%q) = %q; jid.New: %q", name, got, j.Localpart())
		}
	}
}
