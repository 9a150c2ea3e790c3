package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

// The tool's WebSocket client (RFC 6455), for the one thing it does: carry XMPP text messages
// as fast as the cores allow. A login over WebSocket is a handful of small messages, and the
// load tool shares the machine's cores with the server it measures: every microsecond the
// tool spends is one the server does not get. coder/websocket's client (through net/http's
// request writing and response parsing, its Conn, and NetConn's per-call contexts) cost the
// tool about as much CPU per login as xtokend's whole server side; this client writes a
// prepared upgrade request, checks the answer by hand and frames messages itself. It
// supports what a server may send to an XMPP client: text messages (fragmented or not),
// pings (answered), pongs (ignored) and the close frame (echoed). Measured at 8 concurrent
// logins against xtokend: 290 µs of tool CPU per login with coder/websocket, about 200 µs
// with this client. The tests check it against coder/websocket's server side.

// wsGUID is RFC 6455's key suffix for Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Frame opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// wsDialer holds what every upgrade shares: the request up to the key, and the TLS config.
type wsDialer struct {
	t       *target
	tlsConf *tls.Config
	reqHead string // "GET ... Sec-WebSocket-Key: "
}

func newWSDialer(t *target, host, path string, tlsConf *tls.Config) *wsDialer {
	return &wsDialer{t: t, tlsConf: tlsConf, reqHead: "GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Key: "}
}

// dial opens a WebSocket with the subprotocol xmpp, the upgrade bounded by the tool's timeout.
func (d *wsDialer) dial(ctx context.Context) (*wsConn, error) {
	conn, err := d.t.dialTCP(ctx, d.t.addrWS)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(d.t.timeout))
	if d.tlsConf != nil {
		fc := newFlightConn(conn)
		tc := tls.Client(fc, d.tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		fc.lastFlight() // the Finished goes with the upgrade request
		conn = tc
	}
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	var key [24]byte
	base64.StdEncoding.Encode(key[:], raw[:])
	req := make([]byte, 0, len(d.reqHead)+64)
	req = append(append(append(req, d.reqHead...), key[:]...), "\r\n\r\n"...)
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 512)
	if err := readUpgradeAnswer(br, key[:]); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return &wsConn{Conn: conn, br: br}, nil
}

// readUpgradeAnswer reads the server's answer to the upgrade: 101, the accept key of key,
// the subprotocol xmpp. A refusal is an error naming its status line.
func readUpgradeAnswer(br *bufio.Reader, key []byte) error {
	status, err := br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("upgrade: reading the answer: %w", err)
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101 ")) {
		return fmt.Errorf("upgrade refused: %s", bytes.TrimSpace(status))
	}
	h := sha1.Sum(append(append([]byte(nil), key...), wsGUID...))
	want := base64.StdEncoding.EncodeToString(h[:])
	var accepted, xmpp bool
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("upgrade: reading the answer's headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case strings.EqualFold(string(name), "Sec-WebSocket-Accept"):
			accepted = string(value) == want
		case strings.EqualFold(string(name), "Sec-WebSocket-Protocol"):
			xmpp = string(value) == "xmpp"
		}
	}
	if !accepted {
		return errors.New("upgrade: no or a wrong Sec-WebSocket-Accept")
	}
	if !xmpp {
		return errors.New("upgrade: the server did not choose the subprotocol xmpp")
	}
	return nil
}

// wsConn is the WebSocket as the rest of the tool uses a connection: each Write one text
// message; Read the messages' payloads one after the other, io.EOF after the server's close
// frame. One goroutine reads; writes may come from others.
type wsConn struct {
	net.Conn
	br *bufio.Reader

	// Read side.
	left      int64 // payload bytes of the current frame not yet read
	closeRcvd bool

	wmu       sync.Mutex
	wbuf      []byte
	closeSent bool
}

func (c *wsConn) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.closeRcvd {
			return 0, io.EOF
		}
		if err := c.nextFrame(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	return n, err
}

// nextFrame reads frame headers until one of a data frame (left is its length), answering
// control frames on the way.
func (c *wsConn) nextFrame() error {
	var h [14]byte
	if _, err := io.ReadFull(c.br, h[:2]); err != nil {
		return err
	}
	op := h[0] & 0x0f
	if h[1]&0x80 != 0 {
		return errors.New("websocket: a masked frame from the server")
	}
	n := int64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(c.br, h[2:4]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		if _, err := io.ReadFull(c.br, h[2:10]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint64(h[2:10]))
	}
	switch op {
	case opText, opContinuation:
		c.left = n
		return nil
	case opBinary:
		return errors.New("websocket: a binary message from the server")
	}
	if n > 125 {
		return errors.New("websocket: a control frame over 125 bytes")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return err
	}
	switch op {
	case opPing:
		return c.writeFrame(opPong, payload)
	case opClose:
		c.closeRcvd = true
		c.wmu.Lock()
		sent := c.closeSent
		c.wmu.Unlock()
		if !sent {
			if len(payload) > 2 {
				payload = payload[:2] // the status code alone
			}
			c.writeFrame(opClose, payload)
		}
		return nil
	}
	return nil // a pong
}

// Write sends p as one text message.
func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.writeFrame(opText, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeFrame writes one masked frame in one write.
func (c *wsConn) writeFrame(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if op == opClose {
		c.closeSent = true
	}
	b := append(c.wbuf[:0], 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	mask := rand.Uint32()
	b = binary.LittleEndian.AppendUint32(b, mask)
	m := b[len(b)-4:]
	start := len(b)
	b = append(b, p...)
	for i := range b[start:] {
		b[start+i] ^= m[i&3]
	}
	if cap(b) <= 4096 {
		c.wbuf = b
	}
	_, err := c.Conn.Write(b)
	return err
}

// Close ends the WebSocket politely: a close frame (1000) if none was sent, then the
// server's close frame awaited (within a second), then the connection closed.
func (c *wsConn) Close() error {
	if err := c.writeFrame(opClose, []byte{0x03, 0xe8}); err == nil && !c.closeRcvd {
		c.Conn.SetReadDeadline(time.Now().Add(time.Second))
		var discard [256]byte
		for {
			if _, err := c.Read(discard[:]); err != nil {
				break
			}
		}
	}
	return c.Conn.Close()
}

// closeNow drops the connection without the closing handshake.
func (c *wsConn) closeNow() { c.Conn.Close() }
