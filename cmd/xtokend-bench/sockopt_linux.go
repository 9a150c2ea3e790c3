package main

import "syscall"

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT (not in package syscall).
const ipBindAddressNoPort = 24

// bindAddressNoPort lets a connection bound to a source address take its port at connect,
// when the kernel knows the destination: without it, bind picks a port unique across all
// destinations, and ~28,000 connections (TIME_WAIT included) exhaust one source address.
func bindAddressNoPort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
