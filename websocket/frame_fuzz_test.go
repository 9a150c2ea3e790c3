package websocket

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// fuzzConn is a connection with nothing more to read, that takes every write.
type fuzzConn struct{ written bytes.Buffer }

func (c *fuzzConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *fuzzConn) Write(p []byte) (int, error)      { return c.written.Write(p) }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzReadFrames feeds arbitrary bytes to the server as a client's frames:
// the reader never panics, never hands over a message over the size limit,
// ends with an error (the bytes run out), and every answer it writes is
// whole unmasked frames (pongs, a close frame).
func FuzzReadFrames(f *testing.F) {
	open := clientFrame(0x81, openMsg, -1, false)
	f.Add(open)
	f.Add(append(open, clientFrame(0x81, `<presence/>`, -1, false)...))
	f.Add(append(open, append(clientFrame(0x01, `<presence>`, -1, false), append(clientFrame(0x89, "hi", -1, false), clientFrame(0x80, `</presence>`, -1, false)...)...)...))
	f.Add(append(open, clientFrame(0x88, "\x03\xe8", -1, false)...))
	f.Add(append(open, clientFrame(0x81, "", 1<<40, false)...))
	f.Add(append(open, clientFrame(0x81, `<presence/>`, -1, true)...))
	const maxSize = 512
	f.Fuzz(func(t *testing.T, b []byte) {
		nc := &fuzzConn{}
		in := newIdleReader(nc)
		in.early = b
		c := &Conn{netConn: nc, in: in, maxSize: maxSize}
		for range 1000 {
			if err := c.WaitReadable(); err != nil {
				var fe *FramingError
				if errors.As(err, &fe) && (fe.Condition == "" || fe.Text == "") {
					t.Fatalf("a framing error without condition or text: %+v", fe)
				}
				break
			}
			if len(c.pending) > maxSize+256 { // a header grows by its namespace declarations
				t.Fatalf("a message of %d bytes over the limit of %d", len(c.pending), maxSize)
			}
			c.consumed(len(c.pending))
		}
		c.Close()
		for w := nc.written.Bytes(); len(w) > 0; {
			if len(w) < 2 || w[0]&0x80 == 0 || w[1]&0x80 != 0 || w[0]&0x0f < opClose {
				t.Fatalf("the server wrote %x: not a whole unmasked control frame", w)
			}
			n := int(w[1] & 0x7f)
			if n > maxControlPayload || len(w) < 2+n {
				t.Fatalf("the server wrote %x: a bad control frame", w)
			}
			w = w[2+n:]
		}
	})
}
