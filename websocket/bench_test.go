package websocket

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// loginMessages are the messages a client sends to log in over WebSocket.
var loginMessages = []string{
	openMsg,
	`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="X-TOKEN">YWxpY2UAMTIzNDU2NzhhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NSBrN0xZcjNxV2VtWlBjSkJtM3JJV3lXdjdOaXI4SE1SUTRWdm1nOFhaVkVFPQ==</auth>`,
	openMsg,
	`<iq type="set" id="bind_1" xmlns="jabber:client"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>converse.js-123456</resource></bind></iq>`,
	`<presence xmlns="jabber:client"><priority>0</priority><c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="https://conversejs.org" ver="Hxbsr5fazs62i+O0GxIXf2OEDNs="/></presence>`,
	`<message xmlns="jabber:client" to="bob@example.com" type="chat" id="a1b2c3"><body>Hello Bob, how are you today?</body><active xmlns="http://jabber.org/protocol/chatstates"/><origin-id xmlns="urn:xmpp:sid:0" id="a1b2c3"/></message>`,
}

// BenchmarkScanMessage is the validator alone, per message of a login.
func BenchmarkScanMessage(b *testing.B) {
	msgs := make([][]byte, len(loginMessages))
	size := 0
	for i, m := range loginMessages {
		msgs[i] = []byte(m)
		size += len(m)
	}
	b.SetBytes(int64(size / len(msgs)))
	b.ReportAllocs()
	var m message
	for i := 0; b.Loop(); i++ {
		if err := scanMessage(msgs[i%len(msgs)], &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead is a message from a real client over loopback to the bytes
// the server's decoder reads: WebSocket framing, the whole message read,
// checked and (for <open/>) turned into a header. The client's write is in
// the figure too.
func BenchmarkRead(b *testing.B) {
	f := newFixture(b, Options{}, 0)
	client, c := f.accept(b)
	msgs := make([][]byte, len(loginMessages))
	for i, m := range loginMessages {
		msgs[i] = []byte(m)
	}
	go func() {
		ctx := context.Background()
		for i := 0; ; i++ {
			if client.Write(ctx, websocket.MessageText, msgs[i%len(msgs)]) != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WaitReadable(); err != nil {
			b.Fatal(err)
		}
		c.consumed(len(c.pending))
	}
}

// BenchmarkWrite is WriteElement of a stanza without a namespace (so the
// namespace is added) to a client that reads them over loopback.
func BenchmarkWrite(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f := newFixture(b, Options{}, 0)
			client, c := f.accept(b)
			go func() {
				for { // not client.Read: its io.ReadAll would be in the figures
					_, r, err := client.Reader(context.Background())
					if err != nil {
						return
					}
					io.Copy(io.Discard, r)
				}
			}()
			stanza := []byte(`<message to="alice@example.com/web" from="bob@example.com/phone" type="chat" id="a1b2c3"><body>Hello Alice, how are you today?</body></message>`)
			elems := make([][]byte, batch)
			for i := range elems {
				elems[i] = stanza
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(stanza) * batch))
			for b.Loop() {
				var err error
				if batch == 1 {
					err = c.WriteElement(ctx, stanza)
				} else {
					err = c.WriteElements(ctx, elems)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/element")
		})
	}
}

// BenchmarkIdleConn measures what the process holds per idle WebSocket:
// n connections are upgraded, each with a goroutine waiting in
// WaitReadable as a server's read loop would, the keepalive timer set; the
// clients are raw TCP connections that did the handshake by hand, so that
// they add only their socket. bytes/conn is the growth of heap and stacks
// in use, divided by n.
func BenchmarkIdleConn(b *testing.B) {
	const n = 2000
	ready := make(chan *Conn, n)
	var sessions sync.WaitGroup
	h, err := NewHandler(Config{Options: DefaultOptions(), Serve: func(c *Conn) {
		go func() {
			defer sessions.Done()
			ready <- c
			c.WaitReadable()
			c.Close()
		}()
	}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := h.NewHTTPServer()
	go srv.Serve(ln)
	defer srv.Close()

	for b.Loop() {
		heap0, stack0 := memInUse()
		clients := make([]net.Conn, 0, n)
		sessions.Add(n)
		for range n {
			clients = append(clients, rawDial(b, ln.Addr().String()))
		}
		conns := make([]*Conn, 0, n)
		for range n {
			select {
			case c := <-ready:
				conns = append(conns, c)
			case <-time.After(10 * time.Second):
				b.Fatal("connections not handed over")
			}
		}
		time.Sleep(100 * time.Millisecond) // let every goroutine park
		heap1, stack1 := memInUse()
		b.ReportMetric(float64(heap1+stack1-heap0-stack0)/n, "bytes/conn")
		b.ReportMetric(float64(heap1-heap0)/n, "heap-bytes/conn")
		b.ReportMetric(float64(stack1-stack0)/n, "stack-bytes/conn")
		for _, cl := range clients {
			cl.Close()
		}
		runtime.KeepAlive(conns)
		sessions.Wait() // the next round starts from a quiet process
	}
}

// memInUse is heap and goroutine stacks in use after two collections (the
// second lets stacks shrink).
func memInUse() (heap, stack int64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse), int64(ms.StackInuse)
}

// rawDial does a client's WebSocket handshake by hand on a bare TCP
// connection, and leaves it open.
func rawDial(b *testing.B, addr string) net.Conn {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n",
		DefaultPath, addr, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReaderSize(conn, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("handshake: %v %v", resp, err)
	}
	if !strings.EqualFold(resp.Header.Get("Sec-WebSocket-Protocol"), Subprotocol) {
		b.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	return conn
}

// BenchmarkValidateEncodingXML is, for comparison, the same check done with
// encoding/xml: a decoder per message, reading it token by token.
func BenchmarkValidateEncodingXML(b *testing.B) {
	msgs := make([][]byte, len(loginMessages))
	for i, m := range loginMessages {
		msgs[i] = []byte(m)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if ok, err := oneElement(msgs[i%len(msgs)]); !ok {
			b.Fatal(err)
		}
	}
}
