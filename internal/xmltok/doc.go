// Package xmltok is the server's XML decoder: the tokens of encoding/xml's
// Decoder in strict mode, for the same bytes, at a fraction of the cost.
//
// Why a decoder of our own: a profile of a plaintext login (bench/PROFILE.md,
// "The stanza decoder (issue 18)") put encoding/xml's Token at about a fifth
// of the server's CPU, and about half of it per routed message. Most of that
// is the way it reads, not what it checks: one interface call per byte
// (io.ByteReader), every byte appended to a bytes.Buffer one at a time, a
// string allocated for every name and attribute value, a map per namespace
// scope. This decoder reads runs of bytes out of its source's own buffer
// (Source), keeps namespace scopes on a slice, and interns the names and
// values nearly every stanza carries (message, body, jabber:client, ...).
//
// What it must not change is what the server sees. Its parsing is
// encoding/xml's own, step by step (the same reads, the same checks in the
// same order, the same error texts and line numbers), so that every input a
// client can send gives the same tokens, and every input encoding/xml
// refuses is refused at the same token: FuzzSameAsEncodingXML holds it to
// that. What it leaves out is what the server never uses: non-strict mode,
// AutoClose, custom entities, charset readers, RawToken.
//
// Like encoding/xml's, a token's bytes (CharData, Comment, ProcInst's Inst,
// Directive) are valid until the next call to Token; names and attribute
// values are strings that stay valid, and a StartElement's Attr slice is
// its own.
//
// Like encoding/xml reading an io.ByteReader, the decoder takes no byte from
// its source past what it has decoded: once Token returned an end tag, the
// source holds every byte after the tag's '>'. The server relies on that to
// drop an idle session's decoder and prime a fresh one later.
package xmltok
