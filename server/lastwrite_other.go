//go:build !linux

package server

import (
	"net"
	"syscall"
)

// writeLast is a plain write where MSG_MORE is not known to join the FIN to
// the last bytes (see the Linux version).
func writeLast(c syscall.Conn, p []byte) error {
	_, err := c.(net.Conn).Write(p)
	return err
}

// tryWrite is not done here: the writer goroutine writes.
func tryWrite(syscall.Conn, []byte) (int, error) { return 0, errNoTryWrite }
