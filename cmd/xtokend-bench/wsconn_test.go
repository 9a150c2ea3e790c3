package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsTestTarget dials the httptest server srv at path with the tool's client.
func wsTestTarget(t *testing.T, srv *httptest.Server, path string) *wsDialer {
	t.Helper()
	tg := &target{wsURL: "ws" + strings.TrimPrefix(srv.URL, "http") + path, host: "localhost", timeout: 5 * time.Second}
	if err := tg.initWebSocket(); err != nil {
		t.Fatal(err)
	}
	return tg.wsDialer
}

// The tool's client against coder/websocket's server: messages both ways whatever their size
// (the 7-, 16- and 64-bit lengths, masked), a fragmented message read whole, a ping answered,
// and the closing handshake with status 1000 from either side.
func TestWSConnAgainstCoderWebSocket(t *testing.T) {
	sizes := []int{0, 5, 125, 126, 65535, 65536, 200 << 10}
	serverDone := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"xmpp"}})
		if err != nil {
			serverDone <- err
			return
		}
		ws.SetReadLimit(-1)
		ctx := context.Background()
		for range sizes { // echo
			typ, b, err := ws.Read(ctx)
			if err != nil || typ != websocket.MessageText {
				serverDone <- err
				return
			}
			ws.Write(ctx, websocket.MessageText, b)
		}
		// A fragmented message, then a ping the client answers while reading.
		wr, _ := ws.Writer(ctx, websocket.MessageText) // each Write is a frame of its own
		wr.Write([]byte("<a>"))
		wr.Write([]byte("</a>"))
		wr.Close()
		go ws.Read(ctx) // reads the pong, then the close frame's echo
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := ws.Ping(pctx); err != nil {
			serverDone <- err
			return
		}
		serverDone <- ws.Close(websocket.StatusNormalClosure, "") // waits for the echo
	}))
	defer srv.Close()
	d := wsTestTarget(t, srv, "/")
	c, err := d.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range sizes {
		msg := strings.Repeat("x", n)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, n)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: %v (got %d bytes)", n, err, len(got))
		}
	}
	got := make([]byte, 7)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "<a></a>" {
		t.Fatalf("fragmented message: %q, %v", got, err)
	}
	// Reading answers the ping; the server's close frame, echoed, ends the reading.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [16]byte
	if n, err := c.Read(b[:]); err != io.EOF {
		t.Fatalf("read after the messages: %q, %v; want io.EOF", b[:n], err)
	}
	if err := <-serverDone; err != nil {
		t.Fatalf("server: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// The server's close frame ends Read with io.EOF, after the client echoed it.
func TestWSConnServerCloses(t *testing.T) {
	closed := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"xmpp"}})
		if err != nil {
			closed <- err
			return
		}
		ws.Write(context.Background(), websocket.MessageText, []byte("<close/>"))
		closed <- ws.Close(websocket.StatusNormalClosure, "bye") // waits for the echo
	}))
	defer srv.Close()
	c, err := wsTestTarget(t, srv, "/x").dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "<close/>" {
		t.Fatalf("ReadAll: %q, %v; want <close/>, nil (io.EOF at the close frame)", b, err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("server's Close: %v (no echo of its close frame?)", err)
	}
	c.Close()
}

// Refusals and wrong answers to the upgrade are errors that say what was wrong.
func TestWSUpgradeAnswers(t *testing.T) {
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==") // RFC 6455 section 1.3's example
	for _, tc := range []struct{ answer, wantErr string }{
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nsec-websocket-protocol: xmpp\r\n\r\n", ""},
		{"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "upgrade refused: HTTP/1.1 403 Forbidden"},
		{"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAA\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n", "Sec-WebSocket-Accept"},
		{"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", "subprotocol xmpp"},
		{"HTTP/1.1 101 Switching Protocols\r\n", "headers"},
	} {
		err := readUpgradeAnswer(bufio.NewReader(strings.NewReader(tc.answer)), key)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: %v; want %q", tc.answer, err, tc.wantErr)
		}
	}
}
