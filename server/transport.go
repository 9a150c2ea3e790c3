package server

import (
	"context"
	"crypto/tls"
	"io"
	"time"
)

// transport is how one client connection's XML travels: what negotiation and
// a bound session read elements from and write elements to. The negotiator
// and the session's read loop and writer know nothing else of the
// connection, so a second framing of XMPP (WebSocket, RFC 7395) is a second
// transport, not a second negotiator or session loop.
//
// One goroutine reads (negotiation, then the session's read loop); writes
// come from that goroutine during negotiation and from the session's writer
// after EndNegotiation. Every write method writes whole top-level elements:
// a transport that frames messages (WebSocket) sends each as one message.
//
// TCP (tcpTransport): plain or after STARTTLS; answers written during
// negotiation are coalesced into one write per round trip.
//
// What a WebSocket transport (RFC 7395) implements, over the websocket
// package's adapter of one connection:
//
//   - StreamReader: a counting reader (countConn's reading half) over the
//     adapter's synthetic stream: the client's <open/> as a <stream:stream>
//     header, each message's element, <close/> as </stream:stream>. A
//     message that is not one complete element makes Read fail with an
//     error that is not a net.Error, an io.EOF or a *clientError, so the
//     negotiator and the read loop answer it with not-well-formed as they do
//     bad XML on TCP. The per-message limit is the adapter's; the stanza
//     limit (ResetCount, Exceeded) is still counted here.
//   - RestartStream: after SASL success the client sends a new <open/>; the
//     synthetic stream yields a new header, so nothing but the size budget.
//   - WriteStreamOpen: the server's <open/> (from, id, version, xml:lang)
//     and then features as a message of its own. WriteElement and
//     WriteString: one message each. WriteElements: one message per element.
//     WriteStreamClose: <close/>. WriteStreamError: the <stream:error> with
//     xmlns:stream declared, then <close/>.
//   - Secure: true for wss, or https at a trusted proxy. CanStartTLS: false
//     (STARTTLS is never offered; a stream that must be secure and is not
//     is refused). StartTLS is never called.
//   - RemoteIP: the client's address from the transport (a trusted proxy's
//     X-Forwarded-For).
//   - One write is not always one element today: sasl's answer to an
//     attempt past MaxAttempts is the policy-violation stream error and the
//     stream's end in one WriteString. A WebSocket transport splits that one
//     into the error message and <close/> (or sasl leaves it to the server).
//   - Deadlines bound the reads and writes of the underlying connection;
//     EndNegotiation flushes nothing when nothing is held back.
type transport interface {
	// StreamReader is what the current stream's XML decoder reads: an
	// xmltok.Source or an io.ByteReader (the decoder then keeps no buffer of
	// its own, and takes no byte it does not decode) that
	// counts the bytes handed over against the stanza size limit. It
	// changes after StartTLS; negotiation takes it anew for every stream.
	StreamReader() io.Reader
	// ResetCount starts a new stanza's (or stream's) size budget.
	ResetCount()
	// Exceeded reports that the size limit stopped the decoder.
	Exceeded() bool
	// WaitReadable blocks until the client sends something; an idle
	// session waits here, holding no read buffer.
	WaitReadable() error
	// DoneReading is the reading goroutine's last call: buffers go back.
	DoneReading()
	// RestartStream tells the transport that a new stream begins (after
	// STARTTLS or SASL success), with a fresh size budget.
	RestartStream()

	// WriteStreamOpen writes the server's stream header (from is the host,
	// to the client's 'from' if any) and then features (a <stream:features/>
	// element, or "" for none).
	WriteStreamOpen(from, to, features string) error
	// Write and WriteString write one whole element each.
	io.Writer
	io.StringWriter
	// WriteElements writes a batch of whole elements in order (a session's
	// queued stanzas): TCP in one write, WebSocket one message each.
	WriteElements(batch [][]byte) error
	// WriteStreamClose ends the server's stream.
	WriteStreamClose() error
	// WriteStreamError sends a stream error (condition cond of RFC 6120
	// section 4.9.3, text optional) and ends the stream.
	WriteStreamError(cond, text string) error
	// EndNegotiation writes what negotiation held back; from then on the
	// session's writer may write from its own goroutine.
	EndNegotiation() error

	// Secure reports whether the stream is protected (TLS on this
	// connection, or in front of it).
	Secure() bool
	// CanStartTLS reports whether STARTTLS can be offered now.
	CanStartTLS() bool
	// StartTLS runs the server side of a TLS handshake on the connection
	// (after <proceed/> was written); a failure is a *tlsError.
	StartTLS(ctx context.Context, conf *tls.Config) error
	// RemoteIP is the client's address, for logs and rate limits.
	RemoteIP() string

	// CheckStreamStart answers at once, with a not-well-formed error, bytes
	// that cannot begin an XML stream (not '<', whitespace or a BOM), rather
	// than at the negotiation deadline.
	CheckStreamStart() error
	// SetStanzaTimeout starts the session's stanza deadline: from now on a
	// stanza that has started must arrive whole within d (0: no deadline).
	SetStanzaTimeout(d time.Duration)
	// StanzaDone says a whole stanza was read: its deadline is cleared.
	StanzaDone()
	// StanzaTimedOut says the last read failed because a stanza took too long.
	StanzaTimedOut() bool

	SetDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error

	// Close writes what is held back and closes the connection (after
	// TLS's close_notify); only the goroutine that writes calls it.
	Close() error
	// Abort closes the connection at once, writing nothing; any goroutine
	// may call it (Shutdown).
	Abort() error
}
