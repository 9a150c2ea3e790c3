package main

import (
	"net"
	"sync"
)

// flightConn is the TCP connection under the tool's TLS client while it negotiates: it holds
// what is written back until the next read, so that the client's Finished and the stream
// header that follows it go to the server in one segment, as they do from a client that
// writes through a buffer. That is one write system call fewer for the tool per STARTTLS
// login, and one read and one wake-up fewer for the server, whichever server it is. Every
// other write of a login is followed by a read anyway, so nothing else changes on the wire.
//
// After lastFlight, the next read sends what is held and writes go straight through from
// then on: a bound session may be written and read by two goroutines.
type flightConn struct {
	net.Conn
	buf  *[]byte // from flightBufs while holding
	out  []byte
	hold bool // writes are held back until the next read
	last bool // the next read's flush is the last one
}

// newFlightConn holds writes from the start (the ClientHello goes with the first read,
// which waits for the server's answer to it).
func newFlightConn(c net.Conn) *flightConn {
	buf := flightBufs.Get().(*[]byte)
	return &flightConn{Conn: c, hold: true, buf: buf, out: (*buf)[:0]}
}

// flightBufs holds the buffers of the handshake's flights (a ClientHello, a Finished and a
// stream header: well under 1 KB).
var flightBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (c *flightConn) Write(p []byte) (int, error) {
	if !c.hold {
		return c.Conn.Write(p)
	}
	c.out = append(c.out, p...)
	return len(p), nil
}

func (c *flightConn) Read(p []byte) (int, error) {
	if c.hold {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

// flush writes what is held; after lastFlight it also ends the holding.
func (c *flightConn) flush() error {
	var err error
	if len(c.out) > 0 {
		_, err = c.Conn.Write(c.out)
		c.out = c.out[:0]
	}
	if c.last {
		c.hold = false
		*c.buf = c.out[:0]
		flightBufs.Put(c.buf)
		c.buf, c.out = nil, nil
	}
	return err
}

// lastFlight says the handshake is done: what is written until the next read (the stream
// header) goes with the Finished, and nothing is held after that read.
func (c *flightConn) lastFlight() { c.last = true }

// Close sends what is held (an alert after a failed handshake) before closing.
func (c *flightConn) Close() error {
	if c.hold && len(c.out) > 0 {
		c.Conn.Write(c.out)
		c.out = c.out[:0]
	}
	return c.Conn.Close()
}
