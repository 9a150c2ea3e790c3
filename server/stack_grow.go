package server

// The goroutine that waits for an idle client, and the writer started when
// a stanza cannot be written at once (always under TLS and WebSocket), start on the runtime's
// smallest stack (2 KB), and decoding and routing one stanza, or writing it
// through crypto/tls, needs more. Left
// to itself the stack grows where it runs out, deep in the XML decoder, and
// the runtime's growth walks every frame on the stack and the whole stack-size
// table of the function that ran out (encoding/xml's rawToken is a large
// one): in a chat, one stanza per wake, that was about a tenth of the
// server's CPU per message. Growing it once at the top of the wake, with one
// shallow frame on the stack, costs a small copy instead.

// stackAhead is the frame that makes the stack grow: the runtime doubles the
// stack until the frame and its guard fit, so 8 KB of frame leaves a 16 KB
// stack. A plaintext chat's stanza (decode, routing, write) was profiled to
// fit in 8 KB; crypto/tls's read and write do not, and grew again deep in
// the record layer.
const stackAhead = 8 << 10

// growStack grows the calling goroutine's stack to hold stackAhead more
// bytes, if it does not already.
//
//go:noinline
func growStack() {
	var frame [stackAhead]byte
	keepFrame(frame[:])
}

// keepFrame keeps growStack's frame from being optimised away.
//
//go:noinline
func keepFrame([]byte) {}
