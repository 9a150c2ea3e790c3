package server

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/cluster"
)

// Routing to sessions on other nodes, through the server's router: on a
// single node (localRouter) every other node is nowhere, so each of these
// finds nothing to do; in a cluster (clusterRouter, and package cluster for
// how nodes share their sessions) a stanza goes where the node's session
// directory says.
//
//   - A stanza for a full JID not bound here goes to the node that has it.
//     A message for a bare JID goes to the nodes with an available
//     resource of non-negative priority (RFC 6121 section 8.5.2.1), and
//     when there is none, here or there, the sender gets
//     service-unavailable as on a single server; when one node alone gets
//     such a message, it is sent as a sole stanza, and that node answers
//     with service-unavailable if its resources went unavailable while it
//     travelled. Presence for a bare JID goes to every node with a
//     resource of it. A node that is gone takes its sessions with it:
//     stanzas for them get service-unavailable.
//   - Presence of the user's other resources: a session's first broadcast
//     presence sends a presence probe, from its full JID, to each available
//     resource of the user on other nodes; their node answers with that
//     resource's last broadcast presence. Such probes exist only between
//     nodes: one a client sends is dropped (routePresence), and one that
//     arrives from a node is answered, never delivered.
//   - Sending never waits (a bounded queue per peer), so a slow node never
//     stalls a session's read loop. A stanza its queue refuses is answered
//     with resource-constraint where a single server would answer an
//     unreachable recipient with an error.

// routeRemote sends st, addressed to the full JID to, to the node that has
// it bound. It reports false when no other node has it (or the node is gone
// since), and the caller answers as for a user who is offline. A node whose
// queue is full is a recipient out of reach for now: the sender gets
// resource-constraint (wait), except for presence, which is never answered
// with an error.
func (s *session) routeRemote(st *xmlStanza, from, to string) (bool, error) {
	where, ok := s.srv.router.lookup(to)
	if !ok {
		return false, nil
	}
	b, err := st.encode(from, to)
	if err != nil {
		return false, &clientError{cond: condBadFormat, text: "stanza cannot be re-encoded"}
	}
	switch err := s.srv.send(where, b, false); {
	case err == nil:
		return true, nil
	case errors.Is(err, cluster.ErrQueueFull):
		if st.name != "presence" {
			s.replyError(st, to, stanza.Wait, stanza.ResourceConstraint, "the recipient's cluster node is not keeping up")
		}
		return true, nil
	}
	return false, nil
}

// remoteNodes are the other nodes where bare has a resource bound; nil
// on a single node. Presence for a bare JID goes to all of them (each
// delivers to its available resources of any priority).
func (s *session) remoteNodes(bare string) []string {
	return s.remoteWhere(bare, func(cluster.Binding) bool { return true })
}

// remoteAvailable are the other nodes where bare has an available resource
// of at least minPriority, as their nodes last published it: where a
// message for the bare JID can be delivered.
func (s *session) remoteAvailable(bare string, minPriority int32) []string {
	return s.remoteWhere(bare, func(b cluster.Binding) bool { return b.Available && int32(b.Priority) >= minPriority })
}

func (s *session) remoteWhere(bare string, keep func(cluster.Binding) bool) []string {
	var out []string
	for _, b := range s.srv.router.bindings(bare) {
		if keep(b) && !slices.Contains(out, b.Node) {
			out = append(out, b.Node)
		}
	}
	return out
}

// forward sends st, stamped from and to, to each of nodes; each delivers it
// to its own resources of the bare JID to (receive). It says how many nodes
// took it, and whether a full queue refused it.
func (s *session) forward(st *xmlStanza, from, to string, nodes []string) (sent int, full bool, err error) {
	return s.forwardAs(st, from, to, nodes, false)
}

// forwardAs is forward; sole says the one node in nodes is the only one
// delivering st anywhere, so that it answers for st when it reaches no one
// there (cluster.Node.RouteSole).
func (s *session) forwardAs(st *xmlStanza, from, to string, nodes []string, sole bool) (sent int, full bool, err error) {
	if len(nodes) == 0 {
		return 0, false, nil
	}
	b, err := st.encode(from, to)
	if err != nil {
		return 0, false, &clientError{cond: condBadFormat, text: "stanza cannot be re-encoded"}
	}
	for _, n := range nodes {
		switch err := s.srv.send(n, b, sole); {
		case err == nil:
			sent++
		case errors.Is(err, cluster.ErrQueueFull):
			full = true
		}
	}
	return sent, full, nil
}

// forwardBytes sends an already encoded stanza to the other nodes where
// bare has resources (presence the server makes itself).
func (s *session) forwardBytes(bare string, b []byte) {
	for _, n := range s.remoteNodes(bare) {
		s.srv.send(n, b, false)
	}
}

// probeRemote asks the node of each available resource of the user on
// another node for its presence, on behalf of s, whose first broadcast
// presence this is: the cluster's part of RFC 6121 section 4.2.2's "the
// user's server sends the presence of the user's other available
// resources". Each node answers in receive (answerProbe).
func (s *session) probeRemote() {
	for _, b := range s.srv.router.bindings(s.bare) {
		if !b.Available || b.JID == s.full {
			continue
		}
		var buf bytes.Buffer
		openStanza(&buf, "presence", "probe", "", s.full, b.JID)
		buf.WriteString("</presence>")
		s.srv.send(b.Node, buf.Bytes(), false)
	}
}

// receive is Hooks.Stanza: a stanza another node routed here, as
// session.deliver encoded it (to and from stamped). It runs on the link's
// reader, so it only queues: to a full JID, that session; to a bare JID,
// its available resources here. A full JID no longer bound here gets an
// error stanza routed back (never in answer to an error).
//
// sole says the sending node gave the stanza to this node only (RouteSole):
// a message for a bare JID that finds no available resource of
// non-negative priority here (they went unavailable while it travelled)
// is answered with service-unavailable, as the sender's node would have
// answered had it known; a headline is dropped, as there.
func (s *Server) receive(fromNode string, b []byte, sole bool) {
	h, err := stanzaHead(b)
	if err != nil {
		s.logger().Warn("cluster: dropping a routed stanza that does not parse", "peer", fromNode, "err", err)
		return
	}
	to, err := jid.Parse(h.to)
	if err != nil || to.Localpart() == "" {
		s.logger().Warn("cluster: dropping a routed stanza without a user's JID in 'to'", "peer", fromNode)
		return
	}
	if h.name == "presence" && h.typ == "probe" {
		// Only nodes send probes across (probeRemote): answered, never
		// delivered to a client.
		s.answerProbe(fromNode, h)
		return
	}
	if to.Resourcepart() != "" {
		if t := s.reg.lookup(h.to); t != nil {
			if t.wantsPush(h, b) { // a roster or block list push only where asked for
				t.enqueue(b)
			}
			return
		}
		if h.name == "presence" || h.typ == "error" || (h.name == "iq" && h.typ == "result") {
			return
		}
		reply := stanzaError(h.name, h.id, h.to, h.from, stanza.Cancel, stanza.ServiceUnavailable, "")
		s.send(fromNode, reply, false) // never waits: fine on the link's reader
		return
	}
	minPriority := int32(0) // messages: RFC 6121 section 8.5.2.1
	if h.name == "presence" {
		minPriority = -128
	} else if h.name != "message" {
		return // an IQ to a bare JID is answered by the sender's node
	}
	delivered := 0
	for _, t := range s.reg.resources(to.String()) {
		if t.available.Load() && t.priority.Load() >= minPriority {
			t.enqueue(b)
			delivered++
		}
	}
	if sole && delivered == 0 && h.name == "message" && (h.typ == "" || h.typ == "normal" || h.typ == "chat") {
		s.send(fromNode, stanzaError(h.name, h.id, h.to, h.from, stanza.Cancel, stanza.ServiceUnavailable, ""), false)
	}
}

// answerProbe answers a probe another node sent for one of its sessions
// (probeRemote): the probed session's last broadcast presence, addressed to
// the prober, when it is bound here and available. Nothing otherwise: the
// directory the prober read was a moment behind, and the presence that
// made the session unavailable is on its way to the prober already.
func (s *Server) answerProbe(fromNode string, h routedHead) {
	t := s.reg.lookup(h.to)
	if t == nil || !t.available.Load() || h.from == "" {
		return
	}
	p := t.presence.Load()
	if p == nil {
		return
	}
	s.send(fromNode, presenceTo(*p, h.from), false)
}

// presenceTo returns a stored broadcast presence (encoded without 'to') with
// 'to' set.
func presenceTo(b []byte, to string) []byte {
	const open = "<presence"
	if !bytes.HasPrefix(b, []byte(open)) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + len(to) + 8)
	out.WriteString(open)
	writeAttr(&out, "to", to)
	out.Write(b[len(open):])
	return out.Bytes()
}

// stanzaHead reads the start tag of an encoded stanza.
func stanzaHead(b []byte) (routedHead, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.RawToken()
		if err != nil {
			return routedHead{}, err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch start.Name.Local {
		case "message", "presence", "iq":
		default:
			return routedHead{}, fmt.Errorf("not a stanza: <%s>", truncateName(start.Name.Local))
		}
		return headOf(start), nil
	}
}

func truncateName(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// forwardTo sends an encoded stanza to the node where the full JID to is
// bound, when that is another node of the cluster.
func (s *session) forwardTo(to string, b []byte) {
	if where, ok := s.srv.router.lookup(to); ok {
		s.srv.send(where, b, false)
	}
}

// forwardOffline sends the unavailable presence of a session that ended to
// the user's resources on other nodes.
func (s *session) forwardOffline(b []byte) {
	if nodes := s.remoteNodes(s.bare); len(nodes) > 0 {
		b = addressed(b, s.bare)
		for _, n := range nodes {
			s.srv.send(n, b, false)
		}
	}
}

// addressed returns a presence the server made without 'to' (openStanza's
// "<presence xmlns='jabber:client' ...>") with 'to' set, so that the nodes
// it is forwarded to know whose resources it is for.
func addressed(b []byte, to string) []byte {
	const open = "<presence xmlns='jabber:client'"
	if !bytes.HasPrefix(b, []byte(open)) {
		return b
	}
	var out bytes.Buffer
	out.WriteString(open)
	writeAttr(&out, "to", to)
	out.Write(b[len(open):])
	return out.Bytes()
}
