package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/xtokend/xtokend/internal/lastwrite"
)

// runFloor serves the logins mode's exchange from canned answers: it looks for the end of
// each client step (the <auth/>, the bind iq, the stream's end) and writes the answer a
// server would, without parsing, checking credentials or keeping a session. What a login
// costs it is the floor under any server written with Go's net package on this machine,
// under this tool: the kernel's TCP on loopback, Go's poller and scheduler, and the tool's
// own share of the cores. bench/PROFILE.md compares xtokend and ejabberd with it. Plaintext
// RFC 6120 logins, pipelined or not; it answers every user and resource alike.
func runFloor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "the `address` to listen on")
	mech := fs.String("mech", "X-TOKEN", "the SASL `mechanism` the features offer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "LISTENING", ln.Addr())
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	script := floorScript(*mech)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go serveFloor(c, script)
	}
}

// floorStep is one client step and the server's answer to it.
type floorStep struct {
	until  []byte // the step has come when this has
	header bool   // and, for a stream header, the > after it
	answer []byte
}

// end returns where the step ends in p, or -1 when it has not all come.
func (st floorStep) end(p []byte) int {
	i := bytes.Index(p, st.until)
	if i < 0 {
		return -1
	}
	i += len(st.until)
	if st.header {
		j := bytes.IndexByte(p[i:], '>')
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	return i
}

func floorScript(mech string) []floorStep {
	const (
		header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='floor' from='localhost'>"
		open   = "<stream:stream"
	)
	return []floorStep{
		{[]byte(open), true, []byte(header + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>" + mech +
			"</mechanism></mechanisms></stream:features>")},
		{[]byte("</auth>"), false, []byte("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")},
		{[]byte(open), true, []byte(header + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>")},
		{[]byte("</iq>"), false, []byte("<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>floor@localhost/floor</jid></bind></iq>")},
		{streamEnd, false, streamEnd},
	}
}

// serveFloor plays the script on c. Like xtokend, it answers every step that has come in one
// write (a pipelining client's header and <auth/> get the features and <success/> together),
// and its last answer goes with the FIN, in one segment.
func serveFloor(c net.Conn, script []floorStep) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var buf [2048]byte
	out := make([]byte, 0, 1024)
	n, next := 0, 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return
		}
		n += m
		out = out[:0]
		for next < len(script) {
			end := script[next].end(buf[:n])
			if end < 0 {
				break
			}
			out = append(out, script[next].answer...)
			n = copy(buf[:], buf[end:n])
			next++
		}
		if next == len(script) {
			if sc, ok := c.(syscall.Conn); ok {
				lastwrite.Write(sc, out)
			} else {
				c.Write(out)
			}
			return
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		if n == len(buf) {
			return
		}
	}
}
