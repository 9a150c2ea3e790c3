package server

import (
	"context"
	"fmt"
	"net"
	"syscall"
)

// c2sListenConfig keeps TCP keepalive on for client connections with the
// kernel's own timings, at no cost per connection: SO_KEEPALIVE is set once,
// on the listening socket, and every accepted socket inherits it (Linux and
// the BSDs copy the listener's socket options to the sockets it accepts).
// Go's default would make four setsockopt calls per accepted connection
// (keepalive, its idle time, interval and count). Dead peers are found by the
// kernel's probes and by write timeouts.
var c2sListenConfig = net.ListenConfig{
	KeepAlive: -1, // Go sets nothing per connection...
	Control: func(_, _ string, rc syscall.RawConn) error { // ...the listener carries it
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
		}); err != nil {
			return err
		}
		return serr
	},
}

// Listen opens a c2s TCP listener on addr the way ListenAndServe does, for
// callers that want the listener first (to report its address, say).
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	l, err := c2sListenConfig.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen: %w", err)
	}
	return l, nil
}
