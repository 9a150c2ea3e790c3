package server

import (
	"bytes"

	"mellium.im/xmpp/stanza"
)

// Namespaces of the IQs the server answers itself.
const (
	nsPing      = "urn:xmpp:ping"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
)

// serverIQ answers an IQ addressed to the server (isHost) or handled by it
// on an account's behalf: XEP-0199 ping and XEP-0030 disco#info; anything
// else is service-unavailable. from is the address the reply comes from.
func (s *session) serverIQ(st *xmlStanza, from string, isHost bool) {
	if st.typ == "result" || st.typ == "error" {
		return // nobody here asked
	}
	child, ok := st.firstChild()
	if !ok {
		s.replyError(st, from, stanza.Modify, stanza.BadRequest, "an IQ request needs a payload")
		return
	}
	if s.storedIQ(st, child, from) {
		return // roster and blocking
	}
	switch {
	case st.typ == "get" && child.Name.Space == nsPing && child.Name.Local == "ping":
		var b bytes.Buffer
		openStanza(&b, "iq", "result", st.id, from, s.full)
		b.WriteString("</iq>")
		s.reply(b.Bytes())
	case st.typ == "get" && child.Name.Space == nsDiscoInfo && child.Name.Local == "query":
		for _, a := range child.Attr {
			if a.Name.Local == "node" && a.Value != "" {
				s.replyError(st, from, stanza.Cancel, stanza.ItemNotFound, "")
				return
			}
		}
		var b bytes.Buffer
		openStanza(&b, "iq", "result", st.id, from, s.full)
		b.WriteString("<query xmlns='" + nsDiscoInfo + "'>")
		if isHost {
			b.WriteString("<identity category='server' type='im' name='xtokend'/>")
		} else {
			b.WriteString("<identity category='account' type='registered'/>")
		}
		b.WriteString("<feature var='" + nsDiscoInfo + "'/>")
		b.WriteString("<feature var='" + nsPing + "'/>")
		b.WriteString(s.srv.storedFeatures(isHost))
		b.WriteString("</query></iq>")
		s.reply(b.Bytes())
	default:
		s.replyError(st, from, stanza.Cancel, stanza.ServiceUnavailable, "")
	}
}
