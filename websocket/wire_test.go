package websocket

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fixture is the handler on an httptest server (127.0.0.1, a port chosen at
// run time) and the Conns it hands over.
type fixture struct {
	srv   *httptest.Server
	conns chan *Conn
}

func newFixture(t testing.TB, opts Options, maxSize int) *fixture {
	t.Helper()
	f := &fixture{conns: make(chan *Conn, 1)}
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	h, err := NewHandler(Config{Options: opts, MaxStanzaSize: maxSize, Serve: func(c *Conn) { f.conns <- c }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(h)
	f.srv.Config = h.NewHTTPServer()
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) wsURL() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") + DefaultPath }

// dial connects a real WebSocket client; hdr may add headers (Origin, ...).
func (f *fixture) dial(t testing.TB, hdr http.Header, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if subprotocols == nil {
		subprotocols = []string{Subprotocol}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, f.wsURL(), &websocket.DialOptions{Subprotocols: subprotocols, HTTPHeader: hdr})
}

// accept dials and returns both ends.
func (f *fixture) accept(t testing.TB) (*websocket.Conn, *Conn) {
	t.Helper()
	client, _, err := f.dial(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-f.conns:
		t.Cleanup(func() { c.Close() })
		t.Cleanup(func() { client.CloseNow() }) // first: Close then has no one to wait for
		return client, c
	case <-time.After(5 * time.Second):
		t.Fatal("no Conn handed to Serve")
	}
	return nil, nil
}

// chunk reads what one message became in the stream.
func chunk(c *Conn) (string, error) {
	if err := c.WaitReadable(); err != nil {
		return "", err
	}
	s := string(c.pending)
	c.consumed(len(c.pending))
	return s, nil
}

const (
	openMsg   = `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0" xml:lang="en"/>`
	header    = `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="example.com" version="1.0" xml:lang="en">`
	closeMsgS = `<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`
)

type frame struct {
	typ  websocket.MessageType
	data string
}

func text(s string) frame { return frame{websocket.MessageText, s} }

// TestReadWire sends messages from a real client and checks the stream the
// server reads, and for a refused message, what the client gets back when
// the server answers as it must (stream error, <close/>, status 1000).
func TestReadWire(t *testing.T) {
	auth := `<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="X-TOKEN">AGFsaWNl</auth>`
	for _, tc := range []struct {
		name   string
		send   []frame
		stream []string // what the server reads, message by message
		cond   string   // then this FramingError ("": none)
		eof    bool     // or io.EOF
	}{
		{name: "good open", send: []frame{text(openMsg)}, stream: []string{header}},
		{name: "open escaped", send: []frame{text(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='a"b&lt;' version='1.0'/>`)},
			stream: []string{`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="a&quot;b&lt;" version="1.0">`}},
		{name: "open with bad namespace", send: []frame{text(`<open xmlns="jabber:client" to="example.com" version="1.0"/>`)}, cond: CondInvalidNamespace},
		{name: "stanza before open", send: []frame{text(`<message xmlns="jabber:client"/>`)}, cond: CondInvalidNamespace},
		{name: "stanza", send: []frame{text(openMsg), text(" <presence xmlns='jabber:client'/>\n")}, stream: []string{header, `<presence xmlns='jabber:client'/>`}},
		{name: "two elements", send: []frame{text(openMsg), text(`<presence/><presence/>`)}, stream: []string{header}, cond: CondNotWellFormed},
		{name: "partial element", send: []frame{text(openMsg), text(`<message><body>hi</body>`)}, stream: []string{header}, cond: CondNotWellFormed},
		{name: "text", send: []frame{text(openMsg), text(`hello`)}, stream: []string{header}, cond: CondNotWellFormed},
		{name: "binary frame", send: []frame{text(openMsg), {websocket.MessageBinary, `<presence/>`}}, stream: []string{header}, cond: CondNotWellFormed},
		{name: "comment", send: []frame{text(openMsg), text(`<presence><!-- x --></presence>`)}, stream: []string{header}, cond: CondRestrictedXML},
		{name: "oversize", send: []frame{text(openMsg), text(`<message><body>` + strings.Repeat("x", 300) + `</body></message>`)}, stream: []string{header}, cond: CondPolicyViolation},
		{name: "at the limit", send: []frame{text(openMsg), text(`<message><body>` + strings.Repeat("x", 256-len(`<message><body></body></message>`)) + `</body></message>`)},
			stream: []string{header, `<message><body>` + strings.Repeat("x", 256-len(`<message><body></body></message>`)) + `</body></message>`}},
		{name: "close", send: []frame{text(openMsg), text(closeMsgS)}, stream: []string{header, `</stream:stream>`}},
		{name: "restart", send: []frame{text(openMsg), text(auth), text(openMsg)}, stream: []string{header, auth, header}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{}, 256)
			client, c := f.accept(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, fr := range tc.send {
				if err := client.Write(ctx, fr.typ, []byte(fr.data)); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range tc.stream {
				got, err := chunk(c)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if got != want {
					t.Fatalf("message %d:\n got %s\nwant %s", i, got, want)
				}
			}
			if tc.cond == "" {
				return
			}
			_, err := chunk(c)
			var fe *FramingError
			if !errors.As(err, &fe) || fe.Condition != tc.cond {
				t.Fatalf("read error %v; want a FramingError %s", err, tc.cond)
			}
			if _, again := chunk(c); again != err {
				t.Fatalf("second read: %v; want the same error", again)
			}
			// The server's answer, as a server gives it.
			go func() {
				c.WriteStreamError(fe.Condition, "")
				c.Close()
			}()
			_, b, err := client.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantErr := `<stream:error xmlns:stream="http://etherx.jabber.org/streams"><` + tc.cond + ` xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`
			if string(b) != wantErr {
				t.Fatalf("client got %s; want %s", b, wantErr)
			}
			if _, b, err = client.Read(ctx); err != nil || string(b) != closeMsgS {
				t.Fatalf("client got %q, %v; want <close/>", b, err)
			}
			if _, _, err = client.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("client read %v; want close status 1000", err)
			}
		})
	}
}

// TestClientCloses: the client's <close/> and its closing the WebSocket
// end the stream cleanly.
func TestClientCloses(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	client, c := f.accept(t)
	ctx := context.Background()
	client.Write(ctx, websocket.MessageText, []byte(openMsg))
	client.Write(ctx, websocket.MessageText, []byte(closeMsgS))
	for _, want := range []string{header, "</stream:stream>"} {
		if got, err := chunk(c); err != nil || got != want {
			t.Fatalf("got %q, %v; want %s", got, err, want)
		}
	}
	go client.Close(websocket.StatusNormalClosure, "")
	if _, err := chunk(c); err != io.EOF {
		t.Fatalf("after the client closed: %v; want io.EOF", err)
	}
}

// TestWriteWire checks what the client receives: one message per element,
// standalone, whatever its size.
func TestWriteWire(t *testing.T) {
	big := `<message xmlns="jabber:client"><body>` + strings.Repeat("y", 200<<10) + `</body></message>`
	for _, tc := range []struct {
		name  string
		write func(*Conn) error
		want  []string
	}{
		{"open", func(c *Conn) error { return c.WriteOpen("example.com", "abc<\"", "en", "1.0") },
			[]string{`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="example.com" id="abc&lt;&quot;" version="1.0" xml:lang="en"/>`}},
		{"stanza gets its namespace", func(c *Conn) error {
			return c.WriteElement(context.Background(), []byte(`<message to="a@b"><body>hi</body></message>`))
		}, []string{`<message xmlns="jabber:client" to="a@b"><body>hi</body></message>`}},
		{"features get the stream prefix", func(c *Conn) error {
			return c.WriteElement(context.Background(), []byte(`<stream:features><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></stream:features>`))
		}, []string{`<stream:features xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></stream:features>`}},
		{"large element is one message", func(c *Conn) error { return c.WriteElement(context.Background(), []byte(big)) }, []string{big}},
		{"batch", func(c *Conn) error {
			return c.WriteElements(context.Background(), [][]byte{[]byte(`<presence/>`), []byte(big), []byte(`<iq type="result" id="1"/>`)})
		}, []string{`<presence xmlns="jabber:client"/>`, big, `<iq xmlns="jabber:client" type="result" id="1"/>`}},
		{"whitespace is no message", func(c *Conn) error {
			return c.WriteElements(context.Background(), [][]byte{[]byte(" "), []byte(`<presence/>`), []byte("\n"), []byte(`<iq type="result" id="2"/>`)})
		}, []string{`<presence xmlns="jabber:client"/>`, `<iq xmlns="jabber:client" type="result" id="2"/>`}},
		{"close goes out with Close", func(c *Conn) error {
			err := c.WriteClose()
			go c.Close()
			return err
		}, []string{closeMsgS}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{}, 0)
			client, c := f.accept(t)
			errc := make(chan error, 1)
			go func() { errc <- tc.write(c) }()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			client.SetReadLimit(-1)
			for i, want := range tc.want {
				typ, b, err := client.Read(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if typ != websocket.MessageText || string(b) != want {
					t.Fatalf("message %d: type %v, %.200s; want text %.200s", i, typ, b, want)
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			go c.Close()
			if _, _, err := client.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("after Close: %v; want close status 1000", err)
			}
		})
	}
}

// TestReadDeadline: a read that times out leaves the WebSocket usable for
// the stream error.
func TestReadDeadline(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	client, c := f.accept(t)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := chunk(c)
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read: %v; want a timeout", err)
	}
	go func() {
		c.WriteOpen("example.com", "1", "en", "1.0")
		c.WriteStreamError("connection-timeout", "")
		c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, want := range []string{"<open ", "<stream:error ", "<close "} {
		_, b, err := client.Read(ctx)
		if err != nil || !strings.HasPrefix(string(b), want) {
			t.Fatalf("got %q, %v; want %s...", b, err, want)
		}
	}
}

// newKeepaliveFixture is a fixture whose Conns ping every 50 ms and give
// up on a client after 100 ms without an answer.
func newKeepaliveFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{conns: make(chan *Conn, 1)}
	h, err := NewHandler(Config{Options: DefaultOptions(), PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond,
		Serve: func(c *Conn) { f.conns <- c }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// TestKeepalive: a quiet client is pinged (its library answers), and one
// that does not answer is disconnected.
func TestKeepalive(t *testing.T) {
	f := newKeepaliveFixture(t)

	// An answering client: its library answers pings while it reads.
	var pings atomic.Int32
	client, _, err := websocket.Dial(context.Background(), f.wsURL(), &websocket.DialOptions{
		Subprotocols:   []string{Subprotocol},
		OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	c := <-f.conns
	defer c.Close()
	// A write deadline left from the session's last write, long past by
	// the time of the pings, must not fail them.
	c.SetWriteDeadline(time.Now().Add(time.Millisecond))
	go client.Read(context.Background())
	readErr := make(chan error, 1)
	go func() { _, err := chunk(c); readErr <- err }()
	select {
	case err := <-readErr:
		t.Fatalf("an answering client was disconnected: %v", err)
	case <-time.After(400 * time.Millisecond):
	}
	if n := pings.Load(); n < 2 {
		t.Fatalf("%d pings in 400 ms at an interval of 50 ms; want several", n)
	}

	// A client that never reads never answers.
	_, c2 := f.accept(t)
	go func() { _, err := chunk(c2); readErr <- err }()
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "ping") {
			t.Fatalf("read: %v; want a timeout naming the ping", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a client that does not answer pings was not disconnected")
	}
}

// TestFragmentedMessage: a message in several frames is still one message.
func TestFragmentedMessage(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	client, c := f.accept(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client.Write(ctx, websocket.MessageText, []byte(openMsg))
	w, err := client.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{`<message xmlns="jabber:client"><bo`, `dy>hi</body>`, `</message>`}
	for _, p := range parts {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	for _, want := range []string{header, strings.Join(parts, "")} {
		if got, err := chunk(c); err != nil || got != want {
			t.Fatalf("got %q, %v; want %s", got, err, want)
		}
	}
}

// TestWriteTimeout: a client that reads nothing makes a write fail at its
// context's deadline, rather than hang; Close is then immediate.
func TestWriteTimeout(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	_, c := f.accept(t)
	big := []byte(`<message><body>` + strings.Repeat("z", 1<<20) + `</body></message>`)
	var err error
	start := time.Now()
	for range 64 { // until the socket buffers are full
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err = c.WriteElement(ctx, big)
		cancel()
		if err != nil {
			break
		}
	}
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("write to a client that does not read: %v; want a timeout", err)
	}
	if err := c.WriteClose(); err == nil {
		t.Fatal("a write after a failed one succeeded")
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Second):
		t.Fatal("Close waited for a client that does not read")
	}
	t.Logf("failed after %v", time.Since(start))
}
