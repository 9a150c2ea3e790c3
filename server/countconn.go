package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
)

// errStanzaTooLarge is what the XML decoder sees once a stanza is over
// general.max_stanza_size; the connection then gets a policy-violation.
var errStanzaTooLarge = errors.New("server: stanza over max_stanza_size")

// countConn is a net.Conn that counts the bytes the XML decoder takes from it
// and refuses to hand over more than limit between two resets. It is an
// io.ByteReader with its own buffer, so encoding/xml reads through it
// without a bufio of its own: the count is the bytes actually decoded, not
// what a read-ahead buffer happened to pull in, and an oversized stanza is
// stopped as it arrives instead of after it has been buffered whole.
//
// One wraps the TCP connection; after STARTTLS another wraps the TLS
// connection, so the limit counts plaintext. The TLS layer reads the inner
// one with Read, which is not limited.
type countConn struct {
	net.Conn
	r        *bufio.Reader
	n, limit int64
	over     bool
}

func newCountConn(c net.Conn, limit int64) *countConn {
	return &countConn{Conn: c, r: bufio.NewReaderSize(c, 4096), limit: limit}
}

// ReadByte is how encoding/xml reads.
func (c *countConn) ReadByte() (byte, error) {
	if c.limit > 0 && c.n >= c.limit {
		c.over = true
		return 0, errStanzaTooLarge
	}
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// Read serves the TLS layer above (and anything else): not counted.
func (c *countConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// reset starts counting a new stanza (or stream).
func (c *countConn) reset() { c.n = 0 }

// exceeded reports whether the limit stopped the decoder.
func (c *countConn) exceeded() bool { return c.over }

// ConnectionState lets mellium see the TLS state through the wrapper.
func (c *countConn) ConnectionState() tls.ConnectionState {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}
