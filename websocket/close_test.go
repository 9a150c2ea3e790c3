package websocket

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// writeLog records the server's writes to its connections.
type writeLog struct {
	mu     sync.Mutex
	writes [][]byte
}

func (l *writeLog) all() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.writes...)
}

type loggedListener struct {
	net.Listener
	log *writeLog
}

func (l loggedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return loggedConn{c, l.log}, nil
}

type loggedConn struct {
	net.Conn
	log *writeLog
}

func (c loggedConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.writes = append(c.log.writes, append([]byte(nil), p...))
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}

// TestStreamEndIsOneWrite: the server's <close/> (or stream error and
// <close/>) and the WebSocket close frame after it leave in one write, and
// the client still reads them as separate frames, the close status 1000.
func TestStreamEndIsOneWrite(t *testing.T) {
	closeFrame := []byte{0x88, 0x02, 0x03, 0xe8} // FIN+close, unmasked, 2 bytes: 1000
	for _, tc := range []struct {
		name string
		end  func(*Conn) error
		want []string
	}{
		{"close", (*Conn).WriteClose, []string{closeMsgS}},
		{"stream error", func(c *Conn) error { return c.WriteStreamError("policy-violation", "") },
			[]string{`<stream:error xmlns:stream="http://etherx.jabber.org/streams"><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`, closeMsgS}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixture{conns: make(chan *Conn, 1)}
			h, err := NewHandler(Config{Options: DefaultOptions(), Serve: func(c *Conn) { f.conns <- c }})
			if err != nil {
				t.Fatal(err)
			}
			log := &writeLog{}
			f.srv = newLoggedServer(t, h, log)
			client, c := f.accept(t)
			before := len(log.all()) // the 101 answer
			if err := tc.end(c); err != nil {
				t.Fatal(err)
			}
			if n := len(log.all()); n != before {
				t.Fatalf("%d writes before Close; want none (held for the close frame)", n-before)
			}
			closed := make(chan error, 1)
			go func() { closed <- c.Close() }()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for i, want := range tc.want {
				typ, b, err := client.Read(ctx)
				if err != nil || typ != websocket.MessageText || string(b) != want {
					t.Fatalf("message %d: %v %q %v; want %s", i, typ, b, err, want)
				}
			}
			if _, _, err := client.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("after the messages: %v; want close status 1000", err)
			}
			if err := <-closed; err != nil {
				t.Fatalf("Close: %v", err)
			}
			writes := log.all()[before:]
			if len(writes) != 1 {
				t.Fatalf("%d writes for the stream's end and the close frame; want 1", len(writes))
			}
			if !bytes.HasSuffix(writes[0], closeFrame) || !bytes.Contains(writes[0], []byte(closeMsgS)) {
				t.Fatalf("the write is %q; want the messages, then the close frame", writes[0])
			}
		})
	}
}

// TestHeldCloseGoesWithAPing: a control frame the library writes between
// WriteClose and Close takes the held <close/> with it.
func TestHeldCloseGoesWithAPing(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	client, c := f.accept(t)
	if err := c.WriteClose(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan string, 1)
	go func() {
		_, b, err := client.Read(ctx) // answers the ping meanwhile
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b)
	}()
	go c.writeControl(opPing, nil) // its pong is read by no one here: only the write matters
	select {
	case s := <-got:
		if s != closeMsgS {
			t.Fatalf("client read %q; want %s", s, closeMsgS)
		}
	case <-ctx.Done():
		t.Fatal("the held <close/> did not go out with the ping")
	}
}

// newLoggedServer is the fixture's server, its connections' writes logged.
func newLoggedServer(t *testing.T, h *Handler, log *writeLog) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = loggedListener{srv.Listener, log}
	srv.Config = h.NewHTTPServer()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}
