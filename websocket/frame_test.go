package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// rawClient is a client that writes frames byte by byte as a test says.
type rawClient struct {
	net.Conn
	br *bufio.Reader
}

// dialRaw upgrades by hand and checks the server's answer.
func dialRaw(t *testing.T, f *fixture) (*rawClient, *Conn) {
	t.Helper()
	host := strings.TrimPrefix(f.srv.URL, "http://")
	raw, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	req := "GET " + DefaultPath + " HTTP/1.1\r\nHost: " + host + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
	if _, err := raw.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(raw)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 6455 section 1.3's example key and its answer.
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ||
		resp.Header.Get("Sec-WebSocket-Protocol") != "xmpp" || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("answer %s %v", resp.Status, resp.Header)
	}
	select {
	case c := <-f.conns:
		t.Cleanup(func() { c.Close() })
		t.Cleanup(func() { raw.Close() }) // first: Close then has no one to wait for
		return &rawClient{raw, br}, c
	case <-time.After(5 * time.Second):
		t.Fatal("no Conn handed to Serve")
	}
	return nil, nil
}

// clientFrame builds a client frame: first byte b0 (FIN, RSV, opcode), masked
// unless unmasked, the length as claimed (claim < 0: len(p)).
func clientFrame(b0 byte, p string, claim int64, unmasked bool) []byte {
	n := claim
	if n < 0 {
		n = int64(len(p))
	}
	maskBit := byte(0x80)
	if unmasked {
		maskBit = 0
	}
	b := []byte{b0}
	switch {
	case n < 126:
		b = append(b, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, maskBit|126, byte(n>>8), byte(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if unmasked {
		return append(b, p...)
	}
	mask := [4]byte{0x11, 0x22, 0x33, 0x44}
	b = append(b, mask[:]...)
	for i := range len(p) {
		b = append(b, p[i]^mask[i%4])
	}
	return b
}

// readServerFrame reads one server frame: it must be unmasked.
func (r *rawClient) readServerFrame(t *testing.T) (op byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		t.Fatalf("frame head %x: want FIN set and no mask", h)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		io.ReadFull(r.br, x[:])
		n = int(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		io.ReadFull(r.br, x[:])
		n = int(binary.BigEndian.Uint64(x[:]))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r.br, payload); err != nil {
		t.Fatalf("reading a payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

// TestFrameWire pins what the server does with each kind of client frame:
// the element it reads (or the error), and the frames it answers with.
func TestFrameWire(t *testing.T) {
	open := clientFrame(0x81, openMsg, -1, false)
	for _, tc := range []struct {
		name string
		send []byte
		// the read after <open/>: the chunk, or an error that matches
		want    string
		wantErr func(error) bool
		// the server's answer frames after the client's frames (opcode, payload)
		answer []string
	}{
		{name: "a text frame", send: clientFrame(0x81, `<presence/>`, -1, false), want: `<presence/>`},
		{name: "16-bit length", send: clientFrame(0x81, `<presence>`+strings.Repeat("x", 300)+`</presence>`, -1, false),
			want: `<presence>` + strings.Repeat("x", 300) + `</presence>`},
		{name: "fragments with a ping between", send: bytes.Join([][]byte{
			clientFrame(0x01, `<presence>`, -1, false), clientFrame(0x89, "hi", -1, false), clientFrame(0x80, `</presence>`, -1, false)}, nil),
			want: `<presence></presence>`, answer: []string{"pong:hi"}},
		{name: "a pong is no message", send: append(clientFrame(0x8a, "", -1, false), clientFrame(0x81, `<presence/>`, -1, false)...), want: `<presence/>`},
		{name: "close 1000", send: clientFrame(0x88, "\x03\xe8", -1, false), wantErr: isEOF, answer: []string{"close:\x03\xe8"}},
		{name: "close without a status", send: clientFrame(0x88, "", -1, false), wantErr: isEOF, answer: []string{"close:"}},
		{name: "close 1001 with a reason", send: clientFrame(0x88, "\x03\xe9bye", -1, false), wantErr: isEOF, answer: []string{"close:\x03\xe9"}},
		{name: "close 4000", send: clientFrame(0x88, "\x0f\xa0", -1, false), wantErr: errIs(ErrClosedByClient), answer: []string{"close:\x0f\xa0"}},
		{name: "binary", send: clientFrame(0x82, `<presence/>`, -1, false), wantErr: isFraming(CondNotWellFormed)},
		{name: "over max_stanza_size, by the claimed length", send: clientFrame(0x81, "", 1<<40, false), wantErr: isFraming(CondPolicyViolation)},
		{name: "over max_stanza_size in fragments", send: append(clientFrame(0x01, strings.Repeat("x", 600), -1, false), clientFrame(0x80, strings.Repeat("x", 600), -1, false)...),
			wantErr: isFraming(CondPolicyViolation)},
		{name: "unmasked", send: clientFrame(0x81, `<presence/>`, -1, true), wantErr: isProtocol, answer: []string{"close:\x03\xea"}},
		{name: "reserved bit", send: clientFrame(0xc1, `<presence/>`, -1, false), wantErr: isProtocol, answer: []string{"close:\x03\xea"}},
		{name: "reserved opcode", send: clientFrame(0x83, `x`, -1, false), wantErr: isProtocol, answer: []string{"close:\x03\xea"}},
		{name: "continuation first", send: clientFrame(0x80, `<presence/>`, -1, false), wantErr: isProtocol, answer: []string{"close:\x03\xea"}},
		{name: "text inside a message", send: append(clientFrame(0x01, `<a>`, -1, false), clientFrame(0x81, `</a>`, -1, false)...), wantErr: isProtocol, answer: []string{"close:\x03\xea"}},
		{name: "fragmented ping", send: clientFrame(0x09, "x", -1, false), wantErr: isProtocol, answer: []string{"close:\x03\xea"}},
		{name: "long ping", send: clientFrame(0x89, strings.Repeat("x", 126), -1, false), wantErr: isProtocol, answer: []string{"close:\x03\xea"}},
		{name: "close with one byte", send: clientFrame(0x88, "\x03", -1, false), wantErr: isProtocol, answer: []string{"close:\x03\xea"}},
		{name: "close 1005 on the wire", send: clientFrame(0x88, "\x03\xed", -1, false), wantErr: isProtocol, answer: []string{"close:\x03\xea"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{}, 1000)
			client, c := dialRaw(t, f)
			if _, err := client.Write(append(open, tc.send...)); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if got, err := chunk(c); err != nil || got != header {
				t.Fatalf("<open/> read as %q, %v", got, err)
			}
			got, err := chunk(c)
			switch {
			case tc.wantErr == nil && (err != nil || got != tc.want):
				t.Fatalf("read %q, %v; want %q", got, err, tc.want)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("read %q, %v; want another error", got, err)
			}
			if tc.wantErr != nil {
				go c.Close() // what the server does then
			}
			for _, want := range tc.answer {
				op, p := client.readServerFrame(t)
				name := map[byte]string{opPong: "pong", opClose: "close"}[op]
				if name+":"+string(p) != want {
					t.Fatalf("server sent %s:%q; want %q", name, p, want)
				}
			}
		})
	}
}

func isEOF(err error) bool { return err == io.EOF }

func isProtocol(err error) bool {
	var pe *protocolError
	return errors.As(err, &pe)
}

func errIs(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func isFraming(cond string) func(error) bool {
	return func(err error) bool {
		var fe *FramingError
		return errors.As(err, &fe) && fe.Condition == cond
	}
}

// TestUnmask: the word-at-a-time XOR equals the byte-at-a-time one, from
// any offset.
func TestUnmask(t *testing.T) {
	mask := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	for n := range 40 {
		for pos := range int64(4) {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 7)
			}
			want := append([]byte(nil), b...)
			for i := range want {
				want[i] ^= mask[(int64(i)+pos)%4]
			}
			unmask(b, mask, pos)
			if !bytes.Equal(b, want) {
				t.Fatalf("n=%d pos=%d: %x; want %x", n, pos, b, want)
			}
		}
	}
}

// TestLargeFrame: a message of many read chunks, in one frame with a 64-bit
// length, is read whole and unmasked right across the chunks.
func TestLargeFrame(t *testing.T) {
	f := newFixture(t, Options{}, 200<<10)
	client, c := dialRaw(t, f)
	body := make([]byte, 100<<10)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	msg := `<message><body>` + string(body) + `</body></message>`
	if _, err := client.Write(append(clientFrame(0x81, openMsg, -1, false), clientFrame(0x81, msg, -1, false)...)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := chunk(c); err != nil || got != header {
		t.Fatalf("<open/> read as %q, %v", got, err)
	}
	if got, err := chunk(c); err != nil || got != msg {
		t.Fatalf("read %d bytes, %v; want the %d-byte message", len(got), err, len(msg))
	}
}

// TestOversizeThenClose: after a message over the limit the server skips
// the rest of its frame, so the closing handshake still ends cleanly (no
// reset while the client is still sending the frame).
func TestOversizeThenClose(t *testing.T) {
	f := newFixture(t, Options{}, 1000)
	client, c := f.accept(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client.Write(ctx, websocket.MessageText, []byte(openMsg))
	big := `<message><body>` + strings.Repeat("x", 300<<10) + `</body></message>`
	wrote := make(chan error, 1)
	go func() { wrote <- client.Write(ctx, websocket.MessageText, []byte(big)) }()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := chunk(c); err != nil || got != header {
		t.Fatalf("<open/> read as %q, %v", got, err)
	}
	if _, err := chunk(c); !isFraming(CondPolicyViolation)(err) {
		t.Fatalf("read %v; want policy-violation", err)
	}
	c.WriteStreamError(CondPolicyViolation, "")
	go c.Close()
	if err := <-wrote; err != nil {
		t.Fatalf("the client's write of the large message: %v", err)
	}
	client.SetReadLimit(-1)
	for _, want := range []string{"<stream:error", "<close"} {
		if _, b, err := client.Read(ctx); err != nil || !strings.HasPrefix(string(b), want) {
			t.Fatalf("client read %.60q, %v; want %s...", b, err, want)
		}
	}
	if _, _, err := client.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("then %v; want close status 1000", err)
	}
}
