package server

import (
	"bytes"
	"encoding/xml"
	"testing"
)

// The roster answer's escaper writes plain values as they are and must
// agree with encoding/xml's on every other.
func TestWriteEscapedAsEncodingXML(t *testing.T) {
	for _, s := range []string{
		"", "plain@example.net", "Contact 12", "a&b", "<group>", "it's", `say "hi"`, "tab\there",
		"line\nbreak\r", "Ünïcødé ♥", "bad\xffutf8", "\x00nul", "del\x7f", "mixed & ♥ 'all' <of> \"them\"\t",
	} {
		var got, want bytes.Buffer
		writeEscaped(&got, s)
		xml.EscapeText(&want, []byte(s))
		if got.String() != want.String() {
			t.Errorf("writeEscaped(%q) = %q; encoding/xml writes %q", s, got.String(), want.String())
		}
	}
}
