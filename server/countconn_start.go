package server

// errNotXML: the first bytes of a stream cannot begin an XML document.
var errNotXML = &clientError{condNotWellFormed, "not an XML stream"}

// checkStreamStart skips the whitespace a client may send before a stream
// header and fails at once when the next byte cannot begin one: anything but
// '<' or a UTF-8 byte order mark (which it skips). Without it, the decoder would take such
// bytes for the start of text and wait for a '<' until the negotiation
// deadline, and the answer would come 10 s late instead of at once.
func (c *countConn) checkStreamStart() error {
	bom := false
	for {
		for c.r < c.w {
			switch (*c.buf)[c.r] {
			case ' ', '\t', '\r', '\n':
				if c.limit > 0 && c.n >= c.limit {
					c.over = true
					return errStanzaTooLarge
				}
				c.r++
				c.n++
			case '<':
				return nil
			case 0xEF: // a UTF-8 byte order mark, which encoding/xml would take for text
				if bom {
					return errNotXML
				}
				bom = true
				for _, want := range []byte{0xEF, 0xBB, 0xBF} {
					if b, err := c.ReadByte(); err != nil {
						return err
					} else if b != want {
						return errNotXML
					}
				}
			default:
				return errNotXML
			}
		}
		if err := c.fill(); err != nil {
			return err
		}
	}
}
