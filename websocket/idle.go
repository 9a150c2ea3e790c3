package websocket

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Waiting with no goroutine.
//
// A server that keeps its idle connections' sockets in an epoll set of its
// own (rather than a goroutine blocked in WaitReadable for each) needs
// three things of a Conn: the socket to wait for, once nothing is read
// ahead (IdleSocket); one round of WaitReadable once the socket is readable,
// which may find control frames only, a keepalive's pong, and then the wait
// starts again (ReadWoken); and a keepalive that, giving up on a dead peer,
// wakes such a wait: it shuts the socket down (drop) rather than closing
// it, since a socket closed while in an epoll set leaves the set silently
// and its waiter would wait for ever. The Conn's Close closes it.

// IdleSocket returns the TCP socket to wait for when the Conn holds nothing
// read ahead, and nil otherwise (bytes or a message are buffered, the stream
// is over, or the connection is not a TCP socket: TLS). Only the reading
// goroutine calls it.
func (c *Conn) IdleSocket() syscall.RawConn {
	if len(c.pending) > 0 || c.rerr != nil {
		return nil
	}
	c.rmu.Lock() // Close may be reading the connection
	defer c.rmu.Unlock()
	if c.closeRcvd || c.skip > 0 || c.in.raw == nil || c.in.buffered() {
		return nil
	}
	return c.in.raw
}

// ReadWoken is one round of WaitReadable, for a reader woken because the
// socket is readable: it reads what came, answering control frames, and
// reports whether a message is ready for the stream. False and no error:
// control frames alone came, and the caller waits again.
func (c *Conn) ReadWoken() (ready bool, err error) {
	if len(c.pending) == 0 {
		if err := c.waitIdle(); err != nil {
			return false, err
		}
		if err := c.next(); err != nil {
			return false, err
		}
	}
	return len(c.pending) > 0, nil
}

// drop ends the connection for a dead peer, from the keepalive's timer: on
// a TCP socket a shutdown, which a waiting reader (a goroutine, or an epoll
// set) sees as the connection's end and which leaves the close to Close;
// otherwise the close.
func (c *Conn) drop() {
	if c.in.raw != nil {
		var err error
		cerr := c.in.raw.Control(func(fd uintptr) { err = unix.Shutdown(int(fd), unix.SHUT_RDWR) })
		if cerr == nil && err == nil {
			return
		}
	}
	c.netConn.Close()
}
