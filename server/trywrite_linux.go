package server

import (
	"sync"
	"syscall"
)

// tryWrite writes what the socket takes of p now, without waiting (0 when
// its buffer is full) and without the poller: a session's lone stanza then
// goes out from the goroutine that queued it.
func tryWrite(c syscall.Conn, p []byte) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	op := tryWrites.Get().(*tryWriteOp)
	op.p = p
	err = rc.Control(op.f)
	n, werr := op.n, op.err
	op.p, op.err = nil, nil
	tryWrites.Put(op)
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

// tryWriteOp is one non-blocking write's arguments and results, pooled
// with the function bound to them: a closure over them would be three
// allocations per stanza.
type tryWriteOp struct {
	p   []byte
	n   int
	err error
	f   func(fd uintptr)
}

var tryWrites = sync.Pool{New: func() any {
	op := new(tryWriteOp)
	op.f = op.write
	return op
}}

func (op *tryWriteOp) write(fd uintptr) {
	for {
		op.n, op.err = syscall.Write(int(fd), op.p)
		if op.err != syscall.EINTR {
			return
		}
	}
}
