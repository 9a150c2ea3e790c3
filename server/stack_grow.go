package server

// Two goroutines start fresh, on the runtime's smallest stack (2 KB), for
// work that needs more: the wait of an idle TLS session, which reads the
// client's record through crypto/tls once the socket is readable, and the
// writer an outbox starts when a stanza cannot be written at once (always
// under TLS and WebSocket). Left to itself such a stack grows where it runs
// out, deep in crypto/tls's record layer, and the runtime's growth walks
// every frame on the stack and the stack-size table of the function that ran
// out: about a sixth of the server's CPU per STARTTLS message. Growing it
// once at the top, with one shallow frame on the stack, costs a small copy.
// (A woken session's decoding and routing run on a pooled goroutine whose
// stack has grown already: wakeRead.)

// stackAhead is the frame that makes the stack grow: the runtime doubles the
// stack until the frame and its guard fit, so 8 KB of frame leaves a 16 KB
// stack: crypto/tls's read and write did not fit in 8 KB.
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
