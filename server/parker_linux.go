package server

import (
	"errors"
	"os"
	"sync"
	"syscall"
)

// Idle sessions parked on an epoll set.
//
// A session with nothing to read waits for its client. Waiting in a
// goroutine costs the goroutine (its 2 KB stack and its g, about 2.4 KB) for
// as long as the client is silent, which for phones and browser tabs is most
// of the time. Parked instead, a session's socket is in the server's own
// epoll set (level-triggered, one-shot) and the session costs a slot: when
// the socket becomes readable (bytes, the client's end, an error), the wake
// job goes to the negotiator pool, which reads and decodes on a goroutine
// whose stack has grown already. The epoll set itself is watched through
// Go's poller (an epoll descriptor is readable while it has events), so no
// thread blocks on it.
//
// A parked session's connection can also be closed by the server (a stream
// error, a conflict, shutdown): the transport's Close takes the session out
// of the set first and runs its wake job, whose read then meets the closed
// connection and ends the session as a waiting goroutine's read did.

// parker is the epoll set of a server's idle sessions.
type parker struct {
	pool *negotiatorPool
	ep   int      // the epoll descriptor...
	file *os.File // ...in Go's poller (never its Fd: that would make it blocking)

	mu     sync.Mutex
	shut   bool
	parked int        // sessions in the set with a wake job
	slots  []parkSlot // by socket descriptor
	gen    uint32     // told with each registration, so that a stale event is seen as one
}

// parkSlot is a parked session: its wake job, its transport's state and the
// registration's number.
type parkSlot struct {
	gen  uint32
	wake job
	st   *parkState
}

// parkState is what a transport keeps of its socket's registration. Its
// fields are the parker's, under its lock.
type parkState struct {
	p       *parker // the server's, set with the transport (nil: no parking)
	fd      int32   // the socket's descriptor...
	fdKnown bool    // ...once learnFD has run
	added   bool    // in the epoll set (disarmed after its event: one-shot)
	parked  bool    // its slot holds a wake job
	closed  bool    // the connection is closing: no more parking
}

func newParker(pool *negotiatorPool) (*parker, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	p := &parker{pool: pool, ep: fd, file: os.NewFile(uintptr(fd), "xtokend-idle-epoll")}
	rc, err := p.file.SyscallConn()
	if err != nil {
		p.file.Close()
		return nil, err
	}
	go p.watch(rc)
	return p, nil
}

// watch hands every readable parked socket's wake job to the pool, until
// the parker is closed.
func (p *parker) watch(rc syscall.RawConn) {
	events := make([]syscall.EpollEvent, 128)
	var jobs []job
	for {
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, err := syscall.EpollWait(int(fd), events, 0)
				if err == syscall.EINTR {
					continue
				}
				if n <= 0 {
					return false // nothing ready: wait in Go's poller
				}
				jobs = p.take(events[:n], jobs[:0])
				for i, j := range jobs {
					p.pool.do(j)
					jobs[i] = nil
				}
			}
		})
		if err != nil {
			return // closed
		}
	}
}

// take empties the slots of the events' sockets, returning their jobs.
func (p *parker) take(events []syscall.EpollEvent, jobs []job) []job {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range events {
		fd := int(ev.Fd)
		if fd >= len(p.slots) {
			continue
		}
		s := &p.slots[fd]
		if s.wake == nil || s.gen != uint32(ev.Pad) {
			continue // a registration since replaced
		}
		jobs = append(jobs, s.wake)
		p.parked--
		s.st.parked = false
		s.wake, s.st = nil, nil
	}
	return jobs
}

// learnFD keeps rc's descriptor for park, once per connection (the
// descriptor does not change while the connection lives, and closing runs
// before it closes): a wait costs no SyscallConn and no Control.
func (st *parkState) learnFD(rc syscall.RawConn) bool {
	fd := -1
	if err := rc.Control(func(d uintptr) { fd = int(d) }); err != nil || fd < 0 {
		return false
	}
	st.fd, st.fdKnown = int32(fd), true
	return true
}

// park puts the socket (learnFD) in the set with wake to run once it is
// readable, and reports false when it cannot (no parker, the connection is
// closing): the caller waits in a goroutine then.
func (st *parkState) park(wake job) bool {
	p := st.p
	if p == nil || !st.fdKnown {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shut || st.closed || st.parked {
		return false
	}
	op := syscall.EPOLL_CTL_MOD
	if !st.added {
		op = syscall.EPOLL_CTL_ADD
	}
	fd := int(st.fd)
	if fd >= len(p.slots) {
		p.slots = append(p.slots, make([]parkSlot, fd+1-len(p.slots)+len(p.slots)/4)...)
	}
	p.gen++
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: st.fd, Pad: int32(p.gen)}
	if err := syscall.EpollCtl(p.ep, op, fd, &ev); err != nil {
		return false
	}
	st.added, st.parked = true, true
	p.parked++
	p.slots[fd] = parkSlot{gen: p.gen, wake: wake, st: st}
	return true
}

// closing runs before the connection closes: it runs the wake job of a
// session parked on it (its read meets the closed connection and ends the
// session), and no parking comes after it.
func (st *parkState) closing() {
	p := st.p
	if p == nil {
		return
	}
	p.mu.Lock()
	st.closed = true
	var wake job
	// No EPOLL_CTL_DEL: the socket's close takes it out of the set, and an
	// event already taken from the set finds its slot emptied here.
	if st.parked {
		fd := int(st.fd)
		wake = p.slots[fd].wake
		p.slots[fd] = parkSlot{}
		st.parked = false
		p.parked--
	}
	p.mu.Unlock()
	if wake != nil {
		p.pool.do(wake)
	}
}

// close stops the watch. Sessions still parked are woken by their
// connections' closes (Shutdown closes them all).
func (p *parker) close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	p.shut = true
	p.mu.Unlock()
	err := p.file.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}

// count is how many sessions are parked.
func (p *parker) count() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parked
}
