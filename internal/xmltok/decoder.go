package xmltok

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Decoder reads XML tokens from a Source, as encoding/xml's Decoder in
// strict mode does from an io.ByteReader.
type Decoder struct {
	src Source
	// win is the window the source lent at the last Peek, pos how much of
	// it was decoded (and is not discarded yet).
	win []byte
	pos int

	nextByte  int32 // a byte put back by ungetc, or -1
	endNext   uint8 // the next of ends to replace
	needClose bool
	err       error
	line      int
	linestart int64
	offset    int64
	buf       []byte
	toClose   xml.Name

	stk []open    // the open elements, innermost last
	ns  []binding // the namespace declarations in scope, latest last
	// attrs gathers a start tag's attributes, copied into the token's own
	// slice (an array on the stack would make a session's read loop, which
	// starts on a fresh 2 KB goroutine, 384 bytes deeper).
	attrs []xml.Attr

	// ends are end tokens already boxed, for names that end again and
	// again (</body>, </message>): an xml.Token holding a value is
	// immutable, so one can be handed out any number of times.
	ends [5]xml.Token

	start xml.StartElement // see startRead
	end   xml.Name         // see endRead

	// Room for what a stream usually needs, in the decoder itself: one
	// allocation per decoder (its size matters: an idle session's decoder
	// lives until a collection frees it).
	stkArr [4]open
	nsArr  [4]binding
	bufArr [64]byte
	bs     byteSource
}

// open is an element started and not ended: its name as written (prefix,
// not namespace) and how many declarations were in scope before its own.
type open struct {
	name xml.Name
	ns   int
}

// binding is a namespace declaration: prefix ("" for the default
// namespace) to URL.
type binding struct{ prefix, url string }

// NewDecoder returns a decoder reading r: a Source lends its buffer; an
// io.ByteReader is read a byte at a time; any other reader is buffered.
func NewDecoder(r io.Reader) *Decoder {
	d := &Decoder{nextByte: -1, line: 1}
	d.stk, d.ns, d.buf = d.stkArr[:0], d.nsArr[:0], d.bufArr[:0]
	switch s := r.(type) {
	case Source:
		d.src = s
	case io.ByteReader:
		d.bs.r = s
		d.src = &d.bs
	default:
		d.src = sourceOf(r)
	}
	return d
}

// InputPos returns the line of the decoder's position and the 1-based
// column, as encoding/xml's InputPos.
func (d *Decoder) InputPos() (line, column int) {
	return d.line, int(d.offset-d.linestart) + 1
}

// InputOffset returns the byte offset of the decoder's position.
func (d *Decoder) InputOffset() int64 { return d.offset }

// Token returns the next token, as encoding/xml's Decoder.Token in strict
// mode would for the same bytes; at the end of the input, nil and io.EOF.
func (d *Decoder) Token() (xml.Token, error) {
	t, err := d.token()
	d.settle()
	return t, err
}

// settle hands the decoded bytes over to the source: between tokens the
// decoder holds no window (the source's buffer may move or be released).
func (d *Decoder) settle() {
	if d.pos > 0 {
		d.src.Discard(d.pos)
	}
	d.win, d.pos = nil, 0
}

// token is Token before settle: start and end tags are translated, and
// the elements they open and close kept, as encoding/xml's Token does.
func (d *Decoder) token() (xml.Token, error) {
	t, err := d.rawToken()
	if t == nil && err != nil {
		if err == io.EOF && len(d.stk) > 0 {
			err = d.syntaxError("unexpected EOF")
		}
		return nil, err
	}
	switch t {
	case startRead:
		return d.startToken(), nil
	case endRead:
		return d.endToken()
	}
	return t, nil
}

// startToken translates the start tag rawToken left in d.start, after
// the namespace declarations among its attributes, which apply to its own
// name and attributes.
func (d *Decoder) startToken() xml.Token {
	t1 := d.start
	d.start = xml.StartElement{}
	before := len(d.ns)
	for _, a := range t1.Attr {
		if a.Name.Space == xmlnsPrefix {
			d.ns = append(d.ns, binding{a.Name.Local, a.Value})
		}
		if a.Name.Space == "" && a.Name.Local == xmlnsPrefix {
			d.ns = append(d.ns, binding{"", a.Value})
		}
	}
	d.stk = append(d.stk, open{t1.Name, before})
	d.translate(&t1.Name, true)
	for i := range t1.Attr {
		d.translate(&t1.Attr[i].Name, false)
	}
	return t1
}

// endToken checks and translates the end tag rawToken left in d.end.
func (d *Decoder) endToken() (xml.Token, error) {
	t1 := xml.EndElement{Name: d.end}
	d.end = xml.Name{}
	if !d.popElement(&t1) {
		return nil, d.err
	}
	return d.boxEnd(t1), nil
}

// rawToken returns these for a start or an end tag, left in d.start or
// d.end: token translates them and boxes each once.
var (
	startRead xml.Token = tagRead(0)
	endRead   xml.Token = tagRead(1)
)

// tagRead is comparable, unlike the token types that hold bytes: token
// compares with the markers whatever rawToken returned.
type tagRead int

// boxEnd returns t as an xml.Token, the one it returned last time for the
// same name if it still has it.
func (d *Decoder) boxEnd(t xml.EndElement) xml.Token {
	for _, e := range d.ends {
		if e != nil && e.(xml.EndElement) == t {
			return e
		}
	}
	var tok xml.Token = t
	d.ends[d.endNext] = tok
	d.endNext = (d.endNext + 1) % uint8(len(d.ends))
	return tok
}

const (
	xmlURL      = "http://www.w3.org/XML/1998/namespace"
	xmlnsPrefix = "xmlns"
	xmlPrefix   = "xml"
)

// lookup returns the URL prefix is bound to.
func (d *Decoder) lookup(prefix string) (string, bool) {
	for i := len(d.ns) - 1; i >= 0; i-- {
		if d.ns[i].prefix == prefix {
			return d.ns[i].url, true
		}
	}
	return "", false
}

// translate puts the namespace in place of a name's prefix; the default
// namespace applies to element names only.
func (d *Decoder) translate(n *xml.Name, isElementName bool) {
	switch {
	case n.Space == xmlnsPrefix:
		return
	case n.Space == "" && !isElementName:
		return
	case n.Space == xmlPrefix:
		n.Space = xmlURL
	case n.Space == "" && n.Local == xmlnsPrefix:
		return
	}
	if v, ok := d.lookup(n.Space); ok {
		n.Space = v
	}
}

func (d *Decoder) syntaxError(msg string) error {
	return &xml.SyntaxError{Msg: msg, Line: d.line}
}

// popElement ends the innermost element with t, which must name it as its
// start did, and drops the declarations it made.
func (d *Decoder) popElement(t *xml.EndElement) bool {
	name := t.Name
	if len(d.stk) == 0 {
		d.mismatched(xml.Name{}, name)
		return false
	}
	s := d.stk[len(d.stk)-1]
	d.stk = d.stk[:len(d.stk)-1]
	if s.name != name {
		d.mismatched(s.name, name)
		return false
	}
	d.translate(&t.Name, true)
	clear(d.ns[s.ns:]) // no strings kept alive by the spare capacity
	d.ns = d.ns[:s.ns]
	return true
}

// mismatched sets the error of an end tag that does not end the element
// open (none if start.Local is empty), in encoding/xml's words.
func (d *Decoder) mismatched(start, end xml.Name) {
	switch {
	case start.Local == "":
		d.err = d.syntaxError("unexpected end element </" + end.Local + ">")
	case start.Local != end.Local:
		d.err = d.syntaxError("element <" + start.Local + "> closed by </" + end.Local + ">")
	default:
		ns := end.Space
		if end.Space == "" {
			ns = `""`
		}
		d.err = d.syntaxError("element <" + start.Local + "> in space " + start.Space +
			" closed by </" + end.Local + "> in space " + ns)
	}
}

func (d *Decoder) rawToken() (xml.Token, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.needClose {
		// The last element was self-closing: its end now.
		d.needClose = false
		d.end = d.toClose
		return endRead, nil
	}

	b, ok := d.getc()
	if !ok {
		return nil, d.err
	}

	if b != '<' {
		d.ungetc(b)
		data := d.text(-1, false)
		if data == nil {
			return nil, d.err
		}
		return xml.CharData(data), nil
	}

	if b, ok = d.mustgetc(); !ok {
		return nil, d.err
	}
	switch b {
	case '/':
		var name xml.Name
		if name, ok = d.nsname(); !ok {
			if d.err == nil {
				d.err = d.syntaxError("expected element name after </")
			}
			return nil, d.err
		}
		d.space()
		if b, ok = d.mustgetc(); !ok {
			return nil, d.err
		}
		if b != '>' {
			d.err = d.syntaxError("invalid characters between </" + name.Local + " and >")
			return nil, d.err
		}
		d.end = name
		return endRead, nil

	case '?':
		return d.procInst()

	case '!':
		if b, ok = d.mustgetc(); !ok {
			return nil, d.err
		}
		switch b {
		case '-':
			return d.comment()
		case '[':
			for i := 0; i < 6; i++ {
				if b, ok = d.mustgetc(); !ok {
					return nil, d.err
				}
				if b != "CDATA["[i] {
					d.err = d.syntaxError("invalid <![ sequence")
					return nil, d.err
				}
			}
			data := d.text(-1, true)
			if data == nil {
				return nil, d.err
			}
			return xml.CharData(data), nil
		}
		return d.directive(b)
	}

	d.ungetc(b)
	return d.startElement()
}

// startElement reads a start tag after its '<'.
func (d *Decoder) startElement() (xml.Token, error) {
	name, ok := d.nsname()
	if !ok {
		if d.err == nil {
			d.err = d.syntaxError("expected element name after <")
		}
		return nil, d.err
	}
	empty := false
	attr := d.attrs[:0]
	for {
		d.space()
		b, ok := d.mustgetc()
		if !ok {
			return nil, d.err
		}
		if b == '/' {
			empty = true
			if b, ok = d.mustgetc(); !ok {
				return nil, d.err
			}
			if b != '>' {
				d.err = d.syntaxError("expected /> in element")
				return nil, d.err
			}
			break
		}
		if b == '>' {
			break
		}
		d.ungetc(b)

		a := xml.Attr{}
		if a.Name, ok = d.nsname(); !ok {
			if d.err == nil {
				d.err = d.syntaxError("expected attribute name in element")
			}
			return nil, d.err
		}
		d.space()
		if b, ok = d.mustgetc(); !ok {
			return nil, d.err
		}
		if b != '=' {
			d.err = d.syntaxError("attribute name without = in element")
			return nil, d.err
		}
		d.space()
		data := d.attrval()
		if data == nil {
			return nil, d.err
		}
		a.Value = internValue(data)
		attr = append(attr, a)
	}
	// The token's own slice, exactly as long (encoding/xml's is never nil).
	out := []xml.Attr{}
	if len(attr) > 0 {
		out = make([]xml.Attr, len(attr))
		copy(out, attr)
		clear(attr)
		d.attrs = attr[:0]
	}
	if empty {
		d.needClose = true
		d.toClose = name
	}
	d.start = xml.StartElement{Name: name, Attr: out}
	return startRead, nil
}

// procInst reads a processing instruction after its "<?".
func (d *Decoder) procInst() (xml.Token, error) {
	target, ok := d.name()
	if !ok {
		if d.err == nil {
			d.err = d.syntaxError("expected target name after <?")
		}
		return nil, d.err
	}
	d.space()
	d.buf = d.buf[:0]
	var b, b0 byte
	for {
		if b, ok = d.mustgetc(); !ok {
			return nil, d.err
		}
		d.buf = append(d.buf, b)
		if b0 == '?' && b == '>' {
			break
		}
		b0 = b
	}
	data := d.buf[:len(d.buf)-2] // chop ?>
	if target == "xml" {
		content := string(data)
		ver := procInstParam("version", content)
		if ver != "" && ver != "1.0" {
			d.err = fmt.Errorf("xml: unsupported version %q; only version 1.0 is supported", ver)
			return nil, d.err
		}
		enc := procInstParam("encoding", content)
		if enc != "" && enc != "utf-8" && enc != "UTF-8" && !strings.EqualFold(enc, "utf-8") {
			d.err = fmt.Errorf("xml: encoding %q declared but Decoder.CharsetReader is nil", enc)
			return nil, d.err
		}
	}
	return xml.ProcInst{Target: target, Inst: data}, nil
}

// comment reads a comment after its "<!-".
func (d *Decoder) comment() (xml.Token, error) {
	b, ok := d.mustgetc()
	if !ok {
		return nil, d.err
	}
	if b != '-' {
		d.err = d.syntaxError("invalid sequence <!- not part of <!--")
		return nil, d.err
	}
	d.buf = d.buf[:0]
	var b0, b1 byte
	for {
		if b, ok = d.mustgetc(); !ok {
			return nil, d.err
		}
		d.buf = append(d.buf, b)
		if b0 == '-' && b1 == '-' {
			if b != '>' {
				d.err = d.syntaxError(`invalid sequence "--" not allowed in comments`)
				return nil, d.err
			}
			break
		}
		b0, b1 = b1, b
	}
	return xml.Comment(d.buf[:len(d.buf)-3]), nil // chop -->
}

// directive reads a directive (<!DOCTYPE ...>) after its "<!", b its first
// byte. Quoted angle brackets do not count for nesting.
func (d *Decoder) directive(b byte) (xml.Token, error) {
	var ok bool
	d.buf = append(d.buf[:0], b)
	inquote := uint8(0)
	depth := 0
	for {
		if b, ok = d.mustgetc(); !ok {
			return nil, d.err
		}
		if inquote == 0 && b == '>' && depth == 0 {
			break
		}
	HandleB:
		d.buf = append(d.buf, b)
		switch {
		case b == inquote:
			inquote = 0
		case inquote != 0:
		case b == '\'' || b == '"':
			inquote = b
		case b == '>' && inquote == 0:
			depth--
		case b == '<' && inquote == 0:
			s := "!--"
			for i := 0; i < len(s); i++ {
				if b, ok = d.mustgetc(); !ok {
					return nil, d.err
				}
				if b != s[i] {
					d.buf = append(d.buf, s[:i]...)
					depth++
					goto HandleB
				}
			}
			d.buf = d.buf[:len(d.buf)-1] // the '<' written above
			var b0, b1 byte
			for {
				if b, ok = d.mustgetc(); !ok {
					return nil, d.err
				}
				if b0 == '-' && b1 == '-' && b == '>' {
					break
				}
				b0, b1 = b1, b
			}
			d.buf = append(d.buf, ' ')
		}
	}
	return xml.Directive(d.buf), nil
}

func (d *Decoder) attrval() []byte {
	b, ok := d.mustgetc()
	if !ok {
		return nil
	}
	if b == '"' || b == '\'' {
		return d.text(int(b), false)
	}
	d.err = d.syntaxError("unquoted or missing attribute value in element")
	return nil
}

// space skips white space.
func (d *Decoder) space() {
	for {
		b, ok := d.getc()
		if !ok {
			return
		}
		switch b {
		case ' ', '\r', '\n', '\t':
		default:
			d.ungetc(b)
			return
		}
	}
}

// fill discards the decoded window and peeks the next one.
func (d *Decoder) fill() bool {
	d.settle()
	w, err := d.src.Peek()
	if err != nil {
		d.err = err
		return false
	}
	d.win = w
	return true
}

// getc reads one byte, counting lines; the error is left in d.err.
func (d *Decoder) getc() (b byte, ok bool) {
	if d.err != nil {
		return 0, false
	}
	if d.nextByte >= 0 {
		b = byte(d.nextByte)
		d.nextByte = -1
	} else {
		if d.pos >= len(d.win) && !d.fill() {
			return 0, false
		}
		b = d.win[d.pos]
		d.pos++
	}
	if b == '\n' {
		d.line++
		d.linestart = d.offset + 1
	}
	d.offset++
	return b, true
}

// mustgetc is getc where the input may not end: io.EOF becomes a syntax
// error.
func (d *Decoder) mustgetc() (b byte, ok bool) {
	if b, ok = d.getc(); !ok {
		if d.err == io.EOF {
			d.err = d.syntaxError("unexpected EOF")
		}
	}
	return
}

func (d *Decoder) ungetc(b byte) {
	if b == '\n' {
		d.line--
	}
	d.nextByte = int32(b)
	d.offset--
}

// run returns how many bytes at the start of the window class accepts, and
// takes them: only when no byte was put back. None of them may be '\n'
// (the line count).
func (d *Decoder) run(class *[256]bool) []byte {
	if d.nextByte >= 0 || d.err != nil {
		return nil
	}
	w := d.win[d.pos:]
	i := 0
	for i < len(w) && class[w[i]] {
		i++
	}
	d.pos += i
	d.offset += int64(i)
	return w[:i]
}

// plainText are the bytes text takes as they are in every mode: not
// markup, not a reference, no line end, no quote, no ']' or '>' (the
// "]]>" check).
var plainText, nameBytes [256]bool

func init() {
	for c := 0; c < 256; c++ {
		switch c {
		case '<', '&', '\r', '\n', '\'', '"', ']', '>':
		default:
			plainText[c] = true
		}
		nameBytes[c] = c >= utf8.RuneSelf || isNameByte(byte(c))
	}
}

// text reads character data: up to a '<' (quote < 0, not cdata), up to the
// quote (an attribute value), or up to "]]>" (cdata). On failure it
// returns nil and leaves the error in d.err.
func (d *Decoder) text(quote int, cdata bool) []byte {
	var b0, b1 byte
	var trunc int
	d.buf = d.buf[:0]
Input:
	for {
		if r := d.run(&plainText); len(r) > 0 {
			d.buf = append(d.buf, r...)
			if len(r) >= 2 {
				b0 = r[len(r)-2]
			} else {
				b0 = b1
			}
			b1 = r[len(r)-1]
		}
		b, ok := d.getc()
		if !ok {
			if cdata {
				if d.err == io.EOF {
					d.err = d.syntaxError("unexpected EOF in CDATA section")
				}
				return nil
			}
			break Input
		}

		// "]]>" ends a CDATA section, and is an error in text (not in
		// an attribute value).
		if quote < 0 && b0 == ']' && b1 == ']' && b == '>' {
			if cdata {
				trunc = 2
				break Input
			}
			d.err = d.syntaxError("unescaped ]]> not in CDATA section")
			return nil
		}

		if b == '<' && !cdata {
			if quote >= 0 {
				d.err = d.syntaxError("unescaped < inside quoted string")
				return nil
			}
			d.ungetc('<')
			break Input
		}
		if quote >= 0 && b == byte(quote) {
			break Input
		}
		if b == '&' && !cdata {
			if !d.reference() {
				return nil
			}
			b0, b1 = 0, 0
			continue Input
		}

		// \r and \r\n are \n.
		if b == '\r' {
			d.buf = append(d.buf, '\n')
		} else if b1 == '\r' && b == '\n' {
		} else {
			d.buf = append(d.buf, b)
		}
		b0, b1 = b1, b
	}
	data := d.buf[0 : len(d.buf)-trunc]

	// Every character must be one XML allows.
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				d.err = d.syntaxError(fmt.Sprintf("illegal character code %U", rune(c)))
				return nil
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			d.err = d.syntaxError("invalid UTF-8")
			return nil
		}
		i += size
		if !isInCharacterRange(r) {
			d.err = d.syntaxError(fmt.Sprintf("illegal character code %U", r))
			return nil
		}
	}
	return data
}

// reference reads a character or entity reference after its '&' and
// appends what it stands for; false (with d.err set) for one XML or
// encoding/xml does not know.
func (d *Decoder) reference() bool {
	before := len(d.buf)
	d.buf = append(d.buf, '&')
	var text string
	var haveText bool
	b, ok := d.mustgetc()
	if !ok {
		return false
	}
	if b == '#' {
		d.buf = append(d.buf, b)
		if b, ok = d.mustgetc(); !ok {
			return false
		}
		base := 10
		if b == 'x' {
			base = 16
			d.buf = append(d.buf, b)
			if b, ok = d.mustgetc(); !ok {
				return false
			}
		}
		start := len(d.buf)
		for '0' <= b && b <= '9' ||
			base == 16 && 'a' <= b && b <= 'f' ||
			base == 16 && 'A' <= b && b <= 'F' {
			d.buf = append(d.buf, b)
			if b, ok = d.mustgetc(); !ok {
				return false
			}
		}
		if b != ';' {
			d.ungetc(b)
		} else {
			s := string(d.buf[start:])
			d.buf = append(d.buf, ';')
			n, err := strconv.ParseUint(s, base, 64)
			if err == nil && n <= unicode.MaxRune {
				text = string(rune(n))
				haveText = true
			}
		}
	} else {
		d.ungetc(b)
		if !d.readName() {
			if d.err != nil {
				return false
			}
		}
		if b, ok = d.mustgetc(); !ok {
			return false
		}
		if b != ';' {
			d.ungetc(b)
		} else {
			name := d.buf[before+1:]
			d.buf = append(d.buf, ';')
			if isName(name) {
				switch string(name) {
				case "lt":
					text, haveText = "<", true
				case "gt":
					text, haveText = ">", true
				case "amp":
					text, haveText = "&", true
				case "apos":
					text, haveText = "'", true
				case "quot":
					text, haveText = `"`, true
				}
			}
		}
	}
	if haveText {
		d.buf = append(d.buf[:before], text...)
		return true
	}
	ent := string(d.buf[before:])
	if ent[len(ent)-1] != ';' {
		ent += " (no semicolon)"
	}
	d.err = d.syntaxError("invalid character entity " + ent)
	return false
}

// isInCharacterRange reports whether r is a Char of XML 1.0 (section 2.2).
func isInCharacterRange(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// nsname reads a name with at most one ':' in the middle: the part before
// it is the prefix (Space, translated later).
func (d *Decoder) nsname() (name xml.Name, ok bool) {
	s, ok := d.name()
	if !ok {
		return
	}
	if strings.Count(s, ":") > 1 {
		return name, false
	} else if space, local, ok := strings.Cut(s, ":"); !ok || space == "" || local == "" {
		name.Local = s
	} else {
		name.Space = space
		name.Local = local
	}
	return name, true
}

// name reads a name. A missing name sets no error (unless the input
// ended): the caller says what was expected.
func (d *Decoder) name() (s string, ok bool) {
	d.buf = d.buf[:0]
	if !d.readName() {
		return "", false
	}
	b := d.buf
	if !isName(b) {
		d.err = d.syntaxError("invalid XML name: " + string(b))
		return "", false
	}
	return internName(b), true
}

// readName appends a name's bytes to d.buf: up to the first single-byte
// character that cannot be in a name (multi-byte ones are checked later).
func (d *Decoder) readName() (ok bool) {
	var b byte
	if b, ok = d.mustgetc(); !ok {
		return
	}
	if b < utf8.RuneSelf && !isNameByte(b) {
		d.ungetc(b)
		return false
	}
	d.buf = append(d.buf, b)
	for {
		d.buf = append(d.buf, d.run(&nameBytes)...)
		if b, ok = d.mustgetc(); !ok {
			return
		}
		if b < utf8.RuneSelf && !isNameByte(b) {
			d.ungetc(b)
			break
		}
		d.buf = append(d.buf, b)
	}
	return true
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' ||
		'a' <= c && c <= 'z' ||
		'0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// isName reports whether s is a Name of XML 1.0, by encoding/xml's tables.
func isName(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	ascii := true
	for _, c := range s {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// Letter | '_' | ':' first, then NameChar (isNameByte: every
		// ASCII byte readName took is one).
		c := s[0]
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == ':'
	}
	c, n := utf8.DecodeRune(s)
	if c == utf8.RuneError && n == 1 {
		return false
	}
	if !unicode.Is(first, c) {
		return false
	}
	for n < len(s) {
		s = s[n:]
		c, n = utf8.DecodeRune(s)
		if c == utf8.RuneError && n == 1 {
			return false
		}
		if !unicode.Is(first, c) && !unicode.Is(second, c) {
			return false
		}
	}
	return true
}

// procInstParam returns the value of param="..." (or '...') in s, "" if
// there is none: encoding/xml's reading of the XML declaration.
func procInstParam(param, s string) string {
	param = param + "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}
