package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"log/slog"
	"time"
)

// FAST tokens are shared by every node of a cluster: each node keeps them
// all in its RAM, and tells the others (router.shareFAST, on the cluster
// links) of each token it issues, each use it accepts (the token by its
// digest, with the count) and each revocation, which they apply to theirs.
// A server alone tells no one (its router's shareFAST does nothing). A
// node learns only the tokens issued while it is linked; a token it missed
// is refused there, and the client logs in with its X-TOKEN.

// The kinds of FAST events.
const (
	fastEventIssue byte = iota + 1
	fastEventUse
	fastEventRevoke
)

// fastEvent is one change to a user agent's FAST tokens.
type fastEvent struct {
	kind  byte
	user  fastUser
	token fastToken // issue
	// software and device of the user agent (issue).
	software, device string
	digest           [32]byte // use: the token's SHA-256
	count            uint64   // use
	invalidate       bool     // use
}

func (e *fastEvent) encode() []byte {
	b := []byte{e.kind}
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	str(e.user.host)
	str(e.user.node)
	str(e.user.agent)
	switch e.kind {
	case fastEventIssue:
		str(string(e.token.secret))
		str(e.token.mechanism)
		b = binary.AppendVarint(b, e.token.created.UnixNano())
		b = binary.AppendVarint(b, e.token.expires.UnixNano())
		str(e.software)
		str(e.device)
	case fastEventUse:
		b = append(b, e.digest[:]...)
		b = binary.AppendUvarint(b, e.count)
		if e.invalidate {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

var errFASTEvent = errors.New("server: a FAST event from a peer does not decode")

func decodeFASTEvent(b []byte) (e fastEvent, err error) {
	fail := false
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			fail = true
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uv()
		if fail || n > uint64(len(b)) {
			fail = true
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	varint := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			fail = true
			return 0
		}
		b = b[n:]
		return v
	}
	if len(b) == 0 {
		return e, errFASTEvent
	}
	e.kind, b = b[0], b[1:]
	e.user = fastUser{host: str(), node: str(), agent: str()}
	switch e.kind {
	case fastEventIssue:
		e.token.secret = fastSecret(str())
		e.token.mechanism = str()
		e.token.created = time.Unix(0, varint())
		e.token.expires = time.Unix(0, varint())
		e.software, e.device = str(), str()
	case fastEventUse:
		if len(b) < 32 {
			return e, errFASTEvent
		}
		copy(e.digest[:], b)
		b = b[32:]
		e.count = uv()
		if len(b) != 1 {
			return e, errFASTEvent
		}
		e.invalidate = b[0] == 1
	case fastEventRevoke:
	default:
		fail = true
	}
	if fail {
		return e, errFASTEvent
	}
	return e, nil
}

// fastDigest names a token in a use event without its bytes.
func fastDigest(s fastSecret) [32]byte { return sha256.Sum256([]byte(s)) }

// fastFromPeer is cluster.Hooks.FAST: another node changed FAST tokens.
func (s *Server) fastFromPeer(from string, b []byte) {
	e, err := decodeFASTEvent(b)
	if err != nil {
		s.logger().Warn("cluster: a FAST token event from a peer does not decode", "node", from)
		return
	}
	s.fast.apply(e)
}

// fastSharer tells the other nodes of a cluster of FAST changes, in the
// order they were made.
type fastSharer interface {
	// share sends e behind the events before it and returns at once, so
	// that a login never waits for a slow peer; when the queue is full e
	// is dropped (the tokens it changes are refused on the nodes that
	// missed it).
	share(e fastEvent)
	// shareWait sends e behind the events before it and returns once it
	// is on the link to every peer, or ctx has ended, with the peers not
	// reached: an operator's revocation is never dropped, and its answer
	// says where it did not get to.
	shareWait(ctx context.Context, e fastEvent) (unreached []string)
}

// noFASTSharer is a store's sharer on a server alone, and in tests.
type noFASTSharer struct{}

func (noFASTSharer) share(fastEvent)                               {}
func (noFASTSharer) shareWait(context.Context, fastEvent) []string { return nil }

// fastJob is one event on its way to the other nodes; done, when not nil,
// gets the peers not reached.
type fastJob struct {
	event []byte
	done  chan []string
}

// fastQueue is a cluster node's fastSharer: one goroutine hands the events
// to send (the router's shareFAST) in order.
type fastQueue struct {
	q    chan fastJob
	stop <-chan struct{}
	log  *slog.Logger
}

// newFASTQueue starts the queue's goroutine, which ends with ctx.
func newFASTQueue(ctx context.Context, size int, send func(context.Context, []byte) []string, log *slog.Logger) *fastQueue {
	fq := &fastQueue{q: make(chan fastJob, size), stop: ctx.Done(), log: log}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case j := <-fq.q:
				unreached := send(ctx, j.event)
				if j.done != nil {
					j.done <- unreached
				}
			}
		}
	}()
	return fq
}

func (fq *fastQueue) share(e fastEvent) {
	select {
	case fq.q <- fastJob{event: e.encode()}:
	default:
		fq.log.Warn("cluster: FAST token events queue full, one dropped", "jid", e.user.node+"@"+e.user.host)
	}
}

func (fq *fastQueue) shareWait(ctx context.Context, e fastEvent) []string {
	j := fastJob{event: e.encode(), done: make(chan []string, 1)}
	select {
	case fq.q <- j:
	case <-ctx.Done():
		fq.log.Warn("cluster: a FAST token revocation was not shared: the request ended first", "jid", e.user.node+"@"+e.user.host)
		return nil
	case <-fq.stop:
		return nil
	}
	select {
	case unreached := <-j.done:
		return unreached
	case <-ctx.Done(): // it is still sent, in its turn
		return nil
	case <-fq.stop:
		return nil
	}
}
