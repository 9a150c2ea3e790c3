package main

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// writeWithFIN writes p with MSG_MORE and shuts the sending side: the bytes and the FIN
// leave in one segment.
func writeWithFIN(c net.Conn, p []byte) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Write(p)
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Write(func(fd uintptr) bool {
		for len(p) > 0 {
			n, err := syscall.SendmsgN(int(fd), p, nil, nil, syscall.MSG_NOSIGNAL|syscall.MSG_MORE)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return false
			case err != nil:
				return true
			}
			p = p[n:]
		}
		unix.Shutdown(int(fd), unix.SHUT_WR)
		return true
	})
}
