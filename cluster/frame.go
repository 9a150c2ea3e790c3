package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// A link carries frames: a 4-byte big-endian length, then that many bytes,
// the first of which is the frame's kind.
//
//	hello        name, instance id (16 bytes), protocol version   first frame each way
//	stanza       the stanza's bytes                                  dialler -> listener
//	sole stanza  the stanza's bytes                                  dialler -> listener
//	replay?      request id, host, node, token id, expiry            dialler -> listener
//	replay!      request id, result                                  listener -> dialler
//	sessions     version, (full JID, bound at, available?, priority)...
//	                                                                 dialler -> listener, second frame
//	session      version, bound?, full JID, bound at                 dialler -> listener
//	availability version, full JID, available?, priority             dialler -> listener
//	ack          stanza frames handled so far on this link           listener -> dialler
//	revoke       bare JID, resource, at, until, kick?                dialler -> listener
//	fast         a FAST token event (the server's encoding)          dialler -> listener
//	bye          (nothing)                                           both ways, last
//
// The listener acks the stanzas it handed to its hooks each time it has
// read all that arrived. The dialler keeps a stanza until it is acked: when
// the link dies first (a crashed peer), it hands the stanza back
// (Hooks.Undelivered) rather than lose it unsaid.
//
// A sole stanza is one no other node delivers (RouteSole): when it reaches
// no one on the receiving node, that node answers as a single server would.
//
// A node that stops sends bye on each of its links, and waits for the bye
// its peer sends back once it has handled every frame before it: what the
// node routed last (the unavailable presence of the sessions it closed)
// is delivered before the peer hears that it left and drops its links.
//
// A session is bound unavailable; an availability frame follows when its
// broadcast presence makes it available, changes its priority or makes it
// unavailable again. Availability frames are numbered by the same counter
// as binds and unbinds, so a peer sees a session's whole life in order.
//
// Each node dials its own link to every other member and sends on it; the
// links it accepts it only reads from (and answers replay requests on). So a
// pair of nodes holds two connections, each with one writer, and the order a
// node sends its session changes in is the order its peers see them.

const (
	kindHello byte = iota + 1
	kindStanza
	kindReplayReq
	kindReplayResp
	kindSessions
	kindSession
	kindAvailability
	kindStanzaSole
	kindBye
	kindAck
	kindRevoke
	kindFAST
)

const (
	// protocolVersion 2 added availability to the session directory, 3
	// the acks of stanzas, 4 revocations, 5 FAST token events. Nodes of different versions refuse each other's
	// links (hello), so a rolling upgrade runs with two partial clusters
	// until every node is upgraded.
	protocolVersion = 5
	// maxFrame bounds what a peer can make this node allocate. A session
	// snapshot of a busy node is the largest frame.
	maxFrame = 16 << 20
)

// Replay results.
const (
	replayFresh = 0
	replayUsed  = 1
	replayFull  = 2
)

// frame is a decoded frame; which fields mean something depends on kind.
type frame struct {
	kind     byte
	name     string     // hello
	instance [16]byte   // hello
	version  uint64     // hello: protocol; sessions, session, availability: the sender's session version
	payload  []byte     // stanza, sole stanza
	id       uint64     // replay?, replay!
	host     string     // replay?
	node     string     // replay?
	tokenID  []byte     // replay?
	expiry   int64      // replay?: unix nanoseconds
	result   uint64     // replay!
	sessions []session  // sessions
	jid      string     // session, availability
	at       int64      // session: when it was bound (unix ns); 0 for an unbind
	bound    bool       // session
	avail    presence   // availability
	acked    uint64     // ack: stanza frames handled on the link so far
	revoke   Revocation // revoke
	fast     []byte     // fast
}

// session is one bound full JID in a snapshot, with the time it was bound
// and its availability.
type session struct {
	jid string
	at  int64
	presence
}

// presence is what routing needs of a session's broadcast presence (RFC
// 6121 section 8.5.2): whether it is available, and with which priority.
type presence struct {
	available bool
	priority  int8
}

func (f *frame) encode() []byte {
	e := &encoder{b: make([]byte, 4, 64)}
	e.b = append(e.b, f.kind)
	switch f.kind {
	case kindHello:
		e.string(f.name)
		e.fixed(f.instance[:])
		e.uint(f.version)
	case kindStanza, kindStanzaSole:
		e.fixed(f.payload)
	case kindReplayReq:
		e.uint(f.id)
		e.string(f.host)
		e.string(f.node)
		e.bytes(f.tokenID)
		e.int(f.expiry)
	case kindReplayResp:
		e.uint(f.id)
		e.uint(f.result)
	case kindSessions:
		e.uint(f.version)
		e.uint(uint64(len(f.sessions)))
		for _, se := range f.sessions {
			e.string(se.jid)
			e.int(se.at)
			e.presence(se.presence)
		}
	case kindSession:
		e.uint(f.version)
		e.bool(f.bound)
		e.string(f.jid)
		e.int(f.at)
	case kindAvailability:
		e.uint(f.version)
		e.string(f.jid)
		e.presence(f.avail)
	case kindAck:
		e.uint(f.acked)
	case kindFAST:
		e.bytes(f.fast)
	case kindRevoke:
		e.string(f.revoke.JID)
		e.string(f.revoke.Resource)
		e.int(f.revoke.At.UnixNano())
		e.int(f.revoke.Until.UnixNano())
		e.bool(f.revoke.Kick)
	}
	binary.BigEndian.PutUint32(e.b, uint32(len(e.b)-4))
	return e.b
}

// parseFrame decodes a frame's body (kind and fields, without the length).
func parseFrame(body []byte) (frame, error) {
	if len(body) == 0 {
		return frame{}, errors.New("empty frame")
	}
	f := frame{kind: body[0]}
	d := &decoder{b: body[1:]}
	switch f.kind {
	case kindHello:
		f.name = d.string()
		d.fixed(f.instance[:])
		f.version = d.uint()
	case kindStanza, kindStanzaSole:
		f.payload = append([]byte(nil), d.b...)
		d.b = nil
		if len(f.payload) == 0 {
			return frame{}, errors.New("empty stanza")
		}
	case kindReplayReq:
		f.id = d.uint()
		f.host = d.string()
		f.node = d.string()
		f.tokenID = d.bytes()
		f.expiry = d.int()
	case kindReplayResp:
		f.id = d.uint()
		f.result = d.uint()
		if d.err == nil && f.result > replayFull {
			return frame{}, fmt.Errorf("unknown replay result %d", f.result)
		}
	case kindSessions:
		f.version = d.uint()
		n := d.count(4)
		f.sessions = make([]session, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			f.sessions = append(f.sessions, session{jid: d.string(), at: d.int(), presence: d.presence()})
		}
	case kindSession:
		f.version = d.uint()
		f.bound = d.bool()
		f.jid = d.string()
		f.at = d.int()
	case kindAvailability:
		f.version = d.uint()
		f.jid = d.string()
		f.avail = d.presence()
	case kindAck:
		f.acked = d.uint()
	case kindFAST:
		f.fast = d.bytes()
	case kindRevoke:
		f.revoke.JID = d.string()
		f.revoke.Resource = d.string()
		f.revoke.At = time.Unix(0, d.int())
		f.revoke.Until = time.Unix(0, d.int())
		f.revoke.Kick = d.bool()
		if d.err == nil && f.revoke.JID == "" {
			return frame{}, errors.New("revocation without a JID")
		}
	case kindBye:
	default:
		return frame{}, fmt.Errorf("unknown frame kind %d", f.kind)
	}
	if err := d.done(); err != nil {
		return frame{}, fmt.Errorf("frame kind %d: %v", f.kind, err)
	}
	return f, nil
}

// readFrame reads one frame. buf is reused between calls when big enough.
func readFrame(r io.Reader, buf []byte) (frame, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return frame{}, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > maxFrame {
		return frame{}, buf, fmt.Errorf("frame of %d bytes (limit %d)", n, maxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return frame{}, buf, err
	}
	f, err := parseFrame(buf)
	return f, buf, err
}
