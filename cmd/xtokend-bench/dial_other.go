//go:build !linux

package main

import (
	"context"
	"net"
)

// dialTCP dials addr with the tool's dialer: no TCP keepalive, and the next source address
// when there are several.
func (t *target) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	return t.dialNet(ctx, addr)
}
