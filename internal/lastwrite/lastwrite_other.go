//go:build !linux

package lastwrite

import (
	"net"
	"syscall"
)

// Write is a plain write where MSG_MORE is not known to join the FIN to the
// last bytes (see the Linux version); the FIN goes with the close.
func Write(c syscall.Conn, p []byte) error {
	_, err := c.(net.Conn).Write(p)
	return err
}
