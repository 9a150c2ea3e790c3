package server

import (
	"io"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStreamEndRidesWithTheFIN: on plaintext TCP the server's last bytes
// (the stream's end from the writer, a stream error, what negotiation held
// back) and the FIN reach the client as one segment, counted by the
// client's kernel (TCP_INFO's segments in), not as two.
func TestStreamEndRidesWithTheFIN(t *testing.T) {
	for name, end := range map[string]func(tr *tcpTransport) error{
		"stream end": func(tr *tcpTransport) error {
			tr.EndNegotiation()
			return tr.WriteStreamClose()
		},
		"stream error": func(tr *tcpTransport) error {
			tr.EndNegotiation()
			return tr.WriteStreamError(condPolicyViolation, "")
		},
		"held back in negotiation": func(tr *tcpTransport) error {
			if err := tr.WriteStreamOpen("localhost", "", ""); err != nil {
				return err
			}
			return tr.WriteStreamClose()
		},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			raw, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			before := segsIn(t, client)
			tr := newTCPTransport(raw, "127.0.0.1", 0)
			if err := end(tr); err != nil {
				t.Fatal(err)
			}
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(client)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 || string(got[len(got)-len(streamEnd):]) != streamEnd {
				t.Fatalf("the client read %q", got)
			}
			if n := segsIn(t, client) - before; n != 1 {
				t.Errorf("the last bytes and the FIN came in %d segments, want 1", n)
			}
		})
	}
}

func segsIn(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var ierr error
	rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if ierr != nil {
		t.Fatal(ierr)
	}
	return info.Segs_in
}
