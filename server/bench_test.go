package server_test

import (
	"fmt"
	"testing"

	"github.com/xtokend/xtokend/server/servertest"
)

// BenchmarkLogin: one full login (TCP, optional STARTTLS, X-TOKEN, bind)
// and a polite logout per iteration, client on the same machine.
func BenchmarkLogin(b *testing.B) {
	for _, tc := range []struct {
		name     string
		startTLS bool
	}{
		{"plaintext", false},
		{"starttls", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ts := servertest.Start(b, servertest.Options{RequireStartTLS: tc.startTLS})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				c := login(b, ts, fmt.Sprintf("user%d@localhost", i%100), "", loginOpts{startTLS: tc.startTLS})
				c.close()
			}
		})
	}
}

// BenchmarkMessage: a message from alice to bob's bare JID and its arrival,
// one at a time (latency through the router).
func BenchmarkMessage(b *testing.B) {
	ts := servertest.Start(b, servertest.Options{})
	alice := login(b, ts, "alice@localhost", "", loginOpts{})
	bob := login(b, ts, "bob@localhost", "", loginOpts{})
	bob.send("<presence/>")
	bob.ping("sync")
	b.ReportAllocs()
	for b.Loop() {
		alice.send(`<message to='bob@localhost' type='chat'><body>hello</body></message>`)
		bob.nextMatching(isMessage)
	}
}

// BenchmarkMessagePipelined: messages sent back to back, 100 in flight.
func BenchmarkMessagePipelined(b *testing.B) {
	ts := servertest.Start(b, servertest.Options{QueueSize: 1024})
	alice := login(b, ts, "alice@localhost", "", loginOpts{})
	bob := login(b, ts, "bob@localhost", "", loginOpts{})
	bob.send("<presence/>")
	bob.ping("sync")
	b.ReportAllocs()
	sent := 0
	for received := 0; b.Loop(); received++ {
		for sent < received+100 {
			alice.send(`<message to='bob@localhost' type='chat'><body>hello</body></message>`)
			sent++
		}
		bob.nextMatching(isMessage)
	}
	for i := b.N; i < sent; i++ {
		bob.nextMatching(isMessage)
	}
}
