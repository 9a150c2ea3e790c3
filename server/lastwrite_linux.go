package server

import (
	"errors"
	"syscall"
)

// Ending a plaintext stream in one segment.
//
// A session ends with the server's </stream:stream> (or a stream error) and
// the connection's close right after it: written plainly, that is a segment
// for the bytes and another for the FIN, and on loopback each costs the
// kernel a transmit and the client a wakeup. Sent with MSG_MORE the bytes
// wait in the socket instead, and close() puts the FIN on that same segment.
// The bytes are the same; only their last packet changes.

// writeLast writes p with MSG_MORE on a socket (under the connection's
// write deadline, as Write would), for a caller that closes the connection
// next; other connections get a plain Write.
func writeLast(c syscall.Conn, p []byte) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(p) > 0 {
			n, err := syscall.SendmsgN(int(fd), p, nil, nil, syscall.MSG_MORE|syscall.MSG_NOSIGNAL)
			switch {
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
				return false // wait until writable, or the deadline
			case err != nil:
				werr = err
				return true
			}
			p = p[n:]
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return err
}

// tryWrite writes what the socket takes of p now, without waiting (0 when
// its buffer is full) and without the poller: a session's lone stanza then
// goes out from the goroutine that queued it.
func tryWrite(c syscall.Conn, p []byte) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var werr error
	err = rc.Control(func(fd uintptr) {
		for {
			n, werr = syscall.Write(int(fd), p)
			if werr != syscall.EINTR {
				return
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case werr == syscall.EAGAIN:
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}
