package websocket

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestFirstFrameWithHandshake: a client whose first frame reaches the server
// in the same read as its upgrade request (one write here; under load,
// often) has that frame read, not skipped.
func TestFirstFrameWithHandshake(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	raw, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	req := "GET " + DefaultPath + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(f.srv.URL, "http://") + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
	// A masked text frame (RFC 6455 section 5.2) carrying <open/>.
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(openMsg)), mask[0], mask[1], mask[2], mask[3]}
	for i := range len(openMsg) {
		frame = append(frame, openMsg[i]^mask[i%4])
	}
	if _, err := raw.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	var c *Conn
	select {
	case c = <-f.conns:
		t.Cleanup(func() { c.Close() }) // after raw.Close: nothing to wait for
	case <-time.After(5 * time.Second):
		t.Fatal("no Conn handed to Serve")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := chunk(c)
	if err != nil || got != header {
		t.Fatalf("first message read as %q, %v; want %q", got, err, header)
	}
}
