package server

import (
	"encoding/xml"
	"errors"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// bindRequest reads an iq on an authenticated stream (start is read) and
// answers it if it is a resource binding request (RFC 6120 section 7):
// bound reports a bound resource. An iq that is not a bind request is a
// stanza before binding (not-authorized); a bind request that is not of type
// set gets bad-request and the client may try again.
func (c *conn) bindRequest(d *xmltok.Decoder, start xml.StartElement) (bound bool, err error) {
	head := headOf(start)
	id := head.id
	resource, isBind, err := readBind(d)
	if err != nil {
		return false, err
	}
	if !isBind {
		return false, &clientError{condNotAuthorized, "no stanzas before resource binding"}
	}
	if head.typ != "set" {
		_, err := c.t.Write(appendIQError(nil, id, string(stanza.Modify), string(stanza.BadRequest)))
		return false, err
	}
	full, err := c.bind(resource)
	if err != nil {
		var se stanza.Error
		if !errors.As(err, &se) {
			se = stanza.Error{Type: stanza.Cancel, Condition: stanza.InternalServerError}
		}
		c.t.Write(appendIQError(nil, id, string(se.Type), string(se.Condition)))
		return false, errBindRefused
	}
	c.scratch = appendBindResult(c.scratch[:0], id, full.String())
	_, err = c.t.Write(c.scratch)
	return true, err
}

// readBind reads the rest of an iq and reports whether its payload is
// <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>, and the text of the
// bind's <resource/>.
func readBind(d *xmltok.Decoder) (resource string, isBind bool, err error) {
	inBind, inResource := false, false
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return "", false, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 2 && t.Name == xml.Name{Space: nsBind, Local: "bind"}:
				inBind, isBind = true, true
			case depth == 3 && inBind && t.Name == xml.Name{Space: nsBind, Local: "resource"}:
				inResource = true
			}
		case xml.EndElement:
			depth--
			switch depth {
			case 1:
				inBind = false
			case 2:
				inResource = false
			}
		case xml.CharData:
			if inResource && depth == 3 && len(resource) < 4096 {
				resource += string(t)
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
			return "", false, errComment
		}
	}
	return resource, isBind, nil
}

// bind binds a resource. The JID comes from the node the verifier accepted
// and the stream's host; the client's claimed 'from' is never used. A
// resource that is empty or not a valid resourcepart gets one the server
// picks.
func (c *conn) bind(resource string) (jid.JID, error) {
	if c.node == "" || c.host == nil {
		return jid.JID{}, stanza.Error{Type: stanza.Auth, Condition: stanza.NotAuthorized}
	}
	if c.srv.closing.Load() {
		return jid.JID{}, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}
	}
	var full jid.JID
	var err error
	if resource != "" {
		full, err = c.host.userJID(c.node, resource)
	}
	if resource == "" || err != nil {
		full, err = c.host.userJID(c.node, randomResource())
		if err != nil {
			return jid.JID{}, stanza.Error{Type: stanza.Cancel, Condition: stanza.InternalServerError}
		}
	}
	if c.srv.revoked.bindRevoked(c.host.name, c.node, full.String(), c.loggedIn) {
		return jid.JID{}, stanza.Error{Type: stanza.Auth, Condition: stanza.NotAuthorized, Text: map[string]string{"": textRevoked}}
	}
	sess := newSession(c, full)
	// Registered before the bind result is written: stanzas routed to it in
	// the moment before its writer starts wait in its queue.
	old := c.srv.bindSession(sess)
	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	if old != nil {
		old.kill(condConflict, "replaced by a new session")
	}
	return full, nil
}

// userJID is node@host/resource (node@host when resource is empty), checked
// and normalized as jid.New(node, h.name, resource) would, except that the
// host's part, checked once at start, is not checked again: jid.New runs
// IDNA on it, a tenth of a bind's CPU.
func (h *host) userJID(node, resource string) (jid.JID, error) {
	if h.domain.Domainpart() == "" {
		return jid.New(node, h.name, resource)
	}
	j, err := h.domain.WithLocal(node)
	if err != nil || resource == "" {
		return j, err
	}
	return j.WithResource(resource)
}
