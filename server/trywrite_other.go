//go:build !linux

package server

import "syscall"

// tryWrite is not done here: the writer goroutine writes.
func tryWrite(syscall.Conn, []byte) (int, error) { return 0, errNoTryWrite }
