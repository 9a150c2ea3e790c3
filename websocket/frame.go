package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The WebSocket frames of RFC 6455 section 5, the server's side of them.
//
// A frame is a 2-byte head (FIN, three reserved bits, the opcode; the MASK
// bit and a 7-bit length), 2 or 8 more bytes of length when the 7 bits say
// 126 or 127, the 4-byte masking key (every client frame is masked, no
// server frame is), and the payload. A message is one text or binary frame,
// or one followed by continuation frames up to the one with FIN set;
// control frames (close, ping, pong) are short, never fragmented, and may
// come between a message's frames.
//
// The server reads frames straight into the message buffer it checks
// (readMessage) and writes its messages' frames straight into the buffer it
// sends in one write (appendFrameHead): an XMPP server needs nothing more,
// and per connection that is the few fields of Conn rather than a library's
// connection (about 2 KB of heap per idle session, and its locks, contexts
// and timers on every message).

// Opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// Close status codes (RFC 6455 section 7.4.1).
const (
	statusNormal        = 1000
	statusGoingAway     = 1001
	statusProtocolError = 1002
	statusNoStatus      = 1005 // never sent: a close frame without a code
)

// maxControlPayload is the largest control frame payload.
const maxControlPayload = 125

// frameHead is a client frame's head.
type frameHead struct {
	fin    bool
	op     byte
	length int64
	mask   [4]byte
}

// protocolError is a client that breaks RFC 6455: the connection is closed
// with status 1002 and without waiting for the client's close frame.
type protocolError struct{ text string }

func (e *protocolError) Error() string { return "websocket: protocol error: " + e.text }

// readFrameHead reads a client frame's head from r.
func readFrameHead(r io.Reader) (frameHead, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return frameHead{}, err
	}
	h := frameHead{fin: b[0]&0x80 != 0, op: b[0] & 0x0f, length: int64(b[1] & 0x7f)}
	switch {
	case b[0]&0x70 != 0:
		return h, &protocolError{"reserved bits set (no extension was negotiated)"}
	case b[1]&0x80 == 0:
		return h, &protocolError{"an unmasked client frame"}
	}
	switch h.length {
	case 126:
		if _, err := io.ReadFull(r, b[:2]); err != nil {
			return h, err
		}
		h.length = int64(binary.BigEndian.Uint16(b[:2]))
	case 127:
		if _, err := io.ReadFull(r, b[:8]); err != nil {
			return h, err
		}
		n := binary.BigEndian.Uint64(b[:8])
		if n > 1<<62 {
			return h, &protocolError{"a frame length with the top bit set"}
		}
		h.length = int64(n)
	}
	if h.op >= opClose && (!h.fin || h.length > maxControlPayload) {
		return h, &protocolError{"a fragmented or long control frame"}
	}
	if _, err := io.ReadFull(r, h.mask[:]); err != nil {
		return h, err
	}
	return h, nil
}

// unmask XORs b, the payload bytes from offset pos on, with mask.
func unmask(b []byte, mask [4]byte, pos int64) {
	m := mask
	if s := pos & 3; s != 0 { // rotate the key to start at pos
		m = [4]byte{mask[s&3], mask[(s+1)&3], mask[(s+2)&3], mask[(s+3)&3]}
	}
	k := uint64(binary.LittleEndian.Uint32(m[:]))
	k |= k << 32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
	}
	for j := 0; i < len(b); i, j = i+1, j+1 {
		b[i] ^= m[j&3]
	}
}

// appendFrameHead appends the head of an unmasked server frame (FIN set) of
// opcode op with n payload bytes.
func appendFrameHead(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	}
	b = append(b, 127)
	return binary.BigEndian.AppendUint64(b, uint64(n))
}

// closeCode reads a close frame's payload: its status, or statusNoStatus.
func closeCode(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return statusNoStatus, nil
	case len(p) == 1:
		return 0, &protocolError{"a close frame with a 1-byte payload"}
	}
	code := int(binary.BigEndian.Uint16(p))
	if code < 1000 || code >= 5000 || code == statusNoStatus || code == 1006 || code == 1015 || (code > 1014 && code < 3000) {
		return 0, &protocolError{fmt.Sprintf("a close frame with the status %d", code)}
	}
	return code, nil
}

// ErrClosedByClient is a client's close frame with a status other than a
// normal one.
var ErrClosedByClient = errors.New("websocket: the client closed the WebSocket")
