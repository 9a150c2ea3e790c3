package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// The tool dials its IPv4 connections itself rather than with net.Dialer, which costs a login
// three system calls and a trip through the scheduler that the tool does not need on
// loopback: after the non-blocking connect it parks the goroutine until epoll reports the
// socket writable, then asks getsockopt(SO_ERROR) how the connect went and getsockname and
// getpeername what the addresses are. On loopback the handshake is over by the time connect
// returns (the kernel runs the server's side of it in the same call), so a second connect
// says at once how it went (0 once connected, the error if refused); only when it is still
// under way (a full accept queue) does the dial wait, on the netpoller, within the timeout.
// The socket then goes to Go's netpoller as an *os.File, which has the Read, Write, Close
// and deadlines of a net.Conn; fileConn adds the addresses.

// dialTCP dials addr with the tool's dialer: no TCP keepalive, and the next source address
// when there are several.
func (t *target) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return t.dialNet(ctx, addr) // a name or IPv6: net.Dialer's way
	}
	var src netip.Addr
	if len(t.sources) > 0 {
		src, _ = netip.AddrFromSlice(t.sources[int(t.nextSource.Add(1))%len(t.sources)].To4())
	}
	return dialIPv4(addr, ap, src, t.timeout)
}

// dialIPv4 connects to ap (named addr in errors) from src when it is valid, within timeout.
func dialIPv4(addr string, ap netip.AddrPort, src netip.Addr, timeout time.Duration) (net.Conn, error) {
	raddr := net.TCPAddrFromAddrPort(ap)
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: os.NewSyscallError("socket", err)}
	}
	fail := func(call string, err error) (net.Conn, error) {
		syscall.Close(fd)
		if call != "" {
			err = os.NewSyscallError(call, err)
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	// Every login waits for each answer before it writes again, but the messages mode's
	// windows and a stream's end after a message would wait on Nagle: as net.Dial does.
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		return fail("setsockopt", err)
	}
	if src.IsValid() {
		// As bindAddressNoPort says: the port is picked at connect, per destination.
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, ipBindAddressNoPort, 1); err != nil {
			return fail("setsockopt", err)
		}
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: src.As4()}); err != nil {
			return fail("bind", err)
		}
	}
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	pending := false
	switch err := syscall.Connect(fd, sa); err {
	case nil:
	case syscall.EINPROGRESS, syscall.EINTR:
		pending, err = connectPending(fd, sa)
		if err != nil {
			return fail("connect", err)
		}
	default:
		return fail("connect", err)
	}
	f := os.NewFile(uintptr(fd), addr) // non-blocking: on the netpoller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	c := &fileConn{File: f, raddr: raddr, rc: rc}
	if pending {
		if err := c.awaitConnect(sa, timeout); err != nil {
			f.Close()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
		}
	}
	return c, nil
}

// connectPending asks again how a non-blocking connect went: pending while the handshake
// is under way, else its error.
func connectPending(fd int, sa syscall.Sockaddr) (pending bool, err error) {
	switch err := syscall.Connect(fd, sa); err {
	case nil, syscall.EISCONN:
		return false, nil
	case syscall.EALREADY, syscall.EINPROGRESS, syscall.EINTR:
		return true, nil
	default:
		return false, err
	}
}

// awaitConnect waits on the netpoller, within timeout, for a handshake still under way.
func (c *fileConn) awaitConnect(sa syscall.Sockaddr, timeout time.Duration) error {
	if timeout > 0 {
		c.SetWriteDeadline(time.Now().Add(timeout))
		defer c.SetWriteDeadline(time.Time{})
	}
	var cerr error
	err := c.rc.Write(func(fd uintptr) bool {
		var pending bool
		pending, cerr = connectPending(int(fd), sa)
		return !pending
	})
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err // the timeout: os.ErrDeadlineExceeded
	}
	if err != nil {
		return err
	}
	if cerr != nil {
		return os.NewSyscallError("connect", cerr)
	}
	return nil
}

// fileConn is a connected TCP socket on the netpoller. Its errors are net.Conn's: a
// *net.OpError (a net.Error, which crypto/tls and the soak mode look at) wrapping
// os.ErrDeadlineExceeded, net.ErrClosed or the system call's error; io.EOF as it is.
type fileConn struct {
	*os.File
	raddr  *net.TCPAddr
	rc     syscall.RawConn
	noWait bool // reads do not wait: see setNoWait
}

func (c *fileConn) Read(p []byte) (int, error) {
	if c.noWait {
		return c.readNoWait(p)
	}
	n, err := c.File.Read(p)
	if err != nil && err != io.EOF {
		err = c.netError("read", err)
	}
	return n, err
}

func (c *fileConn) Write(p []byte) (int, error) {
	n, err := c.File.Write(p)
	if err != nil {
		err = c.netError("write", err)
	}
	return n, err
}

// netError turns an *os.File's error into net.Conn's.
func (c *fileConn) netError(op string, err error) error {
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: c.raddr, Err: err}
}

func (c *fileConn) RemoteAddr() net.Addr { return c.raddr }

// LocalAddr asks the kernel: nothing on a login's way needs it.
func (c *fileConn) LocalAddr() net.Addr {
	var la net.Addr
	c.rc.Control(func(fd uintptr) {
		if sa, err := syscall.Getsockname(int(fd)); err == nil {
			if in, ok := sa.(*syscall.SockaddrInet4); ok {
				la = &net.TCPAddr{IP: net.IP(in.Addr[:]).To16(), Port: in.Port}
			}
		}
	})
	return la
}

// setNoWait makes reads, until setNoWait(false), one system call each that fails with
// errWouldWait when nothing has come, instead of waiting on the netpoller. Only the
// goroutine that reads may call it.
func (c *fileConn) setNoWait(on bool) { c.noWait = on }

// readNoWait is one read system call, without waiting on the netpoller when nothing has come.
func (c *fileConn) readNoWait(p []byte) (int, error) {
	var (
		n   int
		err error
	)
	if rerr := c.rc.Read(func(fd uintptr) bool {
		n, err = syscall.Read(int(fd), p)
		return true
	}); rerr != nil {
		return 0, c.netError("read", rerr)
	}
	switch {
	case err == syscall.EAGAIN:
		return 0, c.netError("read", errWouldWait)
	case err != nil:
		return 0, c.netError("read", os.NewSyscallError("read", err))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}
