package testkit

import (
	"net"
	"testing"
)

// FreeAddr returns a loopback address ("127.0.0.1:port") that nobody listened
// on a moment ago, for a configuration that must name its port before the
// server starts (a cluster's link address, a child process's listener).
// Another process may take it in between; tests that can listen on port 0
// should.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TCPPair is a connected loopback TCP connection: the accepted end (a
// server's) and the dialled one (a client's), both closed with the test.
func TCPPair(t testing.TB) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*net.TCPConn), client
}
