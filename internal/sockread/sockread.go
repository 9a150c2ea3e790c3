// Package sockread reads a TCP socket into a pooled buffer that is taken
// only once bytes are there. A server with many idle connections waits on
// each of them with no buffer at all: the wait is the runtime's poller's
// (syscall.RawConn.Read), and the buffer comes from the pool in the
// callback that finds the socket readable, and goes back if it was not.
//
// It is how xtokend's idle sessions wait, plain TCP and WebSocket alike.
package sockread

import (
	"io"
	"os"
	"sync"
	"syscall"
)

// Read waits until rc's socket has bytes (or an end, or an error) and reads
// them into *buf from offset off, taking it from pool (a pool of *[]byte)
// first if it is nil; it reads up to the buffer's capacity. While it waits, *buf is nil:
// a buffer taken for a read that would have blocked goes back at once. It
// returns io.EOF at the connection's end, an *os.SyscallError for a failed
// read, and rc's error for a deadline or a closed connection (the caller
// wraps them as its connection's reads do).
func Read(rc syscall.RawConn, pool *sync.Pool, buf **[]byte, off int) (int, error) {
	// Two allocations a read, held while it waits: the state (32 bytes)
	// and the callback bound to it (16).
	r := &read{pool: pool, buf: buf, off: int32(off)}
	err := rc.Read(r.try)
	switch {
	case err != nil:
		return 0, err
	case r.errno != 0:
		return 0, os.NewSyscallError("read", r.errno)
	case r.n <= 0:
		return 0, io.EOF
	}
	return int(r.n), nil
}

// read is one Read: the callback's state and results.
type read struct {
	pool   *sync.Pool
	buf    **[]byte
	errno  syscall.Errno
	n, off int32 // a read buffer is far under 2 GB
}

// try reads what the socket has; false (wait) when it has nothing yet.
func (r *read) try(fd uintptr) bool {
	if *r.buf == nil {
		*r.buf = r.pool.Get().(*[]byte)
	}
	b := *r.buf
	for {
		n, err := syscall.Read(int(fd), (*b)[r.off:cap(*b)])
		r.n, r.errno = int32(n), 0
		if err != nil {
			r.errno = err.(syscall.Errno) // what syscall.Read returns
		}
		if r.errno != syscall.EINTR {
			break
		}
	}
	if r.errno == syscall.EAGAIN {
		r.pool.Put(b)
		*r.buf = nil
		return false // wait with no buffer
	}
	return true
}
