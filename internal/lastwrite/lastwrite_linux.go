// Package lastwrite writes a connection's last bytes and its FIN in one
// segment: the end of a stream whose connection closes next. xtokend ends
// its plaintext streams so; the load tool's floor server does the same, so
// that the two send the same segments.
package lastwrite

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// Ending a plaintext stream in one segment.
//
// A session ends with the server's </stream:stream> and the connection's
// close right after it: written plainly, that is a segment for the bytes and
// another for the FIN, and on loopback each costs the kernel a transmit and
// the client a wakeup. Sent with MSG_MORE the bytes wait in the socket, and
// shutdown(SHUT_WR) puts the FIN on that same segment. The bytes are the
// same; only their last packet changes.
//
// The FIN goes with the shutdown, not with the close that follows: a close
// that finds bytes the client sent and the server has not read answers with
// a reset and drops whatever is still held back, and such bytes can arrive
// at any moment (a client still sending when the server ends its stream).
// After the shutdown the stream's end and the FIN are on their way, whatever
// the close then does.

// Write writes p, under the connection's write deadline as Write would,
// and the FIN with it: the caller closes the connection next.
func Write(c syscall.Conn, p []byte) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(p) > 0 {
			n, err := syscall.SendmsgN(int(fd), p, nil, nil, syscall.MSG_NOSIGNAL|syscall.MSG_MORE)
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
		werr = unix.Shutdown(int(fd), unix.SHUT_WR)
		return true
	})
	if err == nil {
		err = werr
	}
	return err
}
