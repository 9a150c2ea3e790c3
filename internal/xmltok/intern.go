package xmltok

// The names and attribute values nearly every stream and stanza carries
// are returned as these strings rather than allocated each time. A table
// of buckets by length and end bytes, not a map: a miss (an id, a JID)
// costs a few byte compares, not a hash of the whole value.
var names, values internTable

type internTable [512][]string

func internHash(b []byte) int {
	return (len(b)*61 + int(b[0])*7 + int(b[len(b)-1])) & 511
}

func (t *internTable) add(s string) {
	h := internHash([]byte(s))
	t[h] = append(t[h], s)
}

// find returns the interned string equal to b, if there is one.
func (t *internTable) find(b []byte) (string, bool) {
	for _, s := range t[internHash(b)] {
		if s == string(b) {
			return s, true
		}
	}
	return "", false
}

func init() {
	for _, s := range []string{
		// RFC 6120 streams, SASL, bind, and the stanzas.
		"stream:stream", "stream:error", "stream:features", "stream", "xmlns", "xmlns:stream",
		"to", "from", "id", "type", "version", "xml:lang", "lang",
		"message", "presence", "iq", "body", "subject", "thread", "show", "status", "priority",
		"error", "text", "auth", "response", "success", "failure", "challenge", "abort",
		"mechanism", "starttls", "bind", "resource", "jid", "session", "query", "item",
		// SASL2, Bind2, FAST, stream management, common extensions.
		"authenticate", "initial-response", "user-agent", "software", "device", "tag",
		"request-token", "fast", "count", "invalidate", "enable", "resume", "enabled", "resumed",
		"r", "a", "h", "previd", "max", "location", "active", "inactive", "ping",
		"request", "received", "markable", "displayed", "origin-id", "stanza-id", "by",
		"c", "hash", "node", "ver", "x", "delay", "stamp", "name", "subscription", "group",
		"ask", "approved", "composing", "paused", "gone", "sent", "forwarded", "result",
		"private", "no-copy", "store", "no-store", "encryption", "namespace",
	} {
		names.add(s)
	}
	for _, s := range []string{
		"jabber:client", "http://etherx.jabber.org/streams", "1.0", "en",
		"urn:ietf:params:xml:ns:xmpp-sasl", "urn:ietf:params:xml:ns:xmpp-bind",
		"urn:ietf:params:xml:ns:xmpp-tls", "urn:ietf:params:xml:ns:xmpp-session",
		"urn:ietf:params:xml:ns:xmpp-stanzas", "urn:ietf:params:xml:ns:xmpp-streams",
		"urn:xmpp:sasl:2", "urn:xmpp:bind:0", "urn:xmpp:fast:0", "urn:xmpp:sm:3",
		"urn:xmpp:ping", "urn:xmpp:receipts", "urn:xmpp:chat-markers:0", "urn:xmpp:sid:0",
		"urn:xmpp:delay", "urn:xmpp:carbons:2", "urn:xmpp:forward:0", "urn:xmpp:hints",
		"urn:xmpp:csi:0", "urn:xmpp:mam:2", "urn:xmpp:eme:0", "urn:xmpp:blocking",
		"jabber:iq:roster", "jabber:iq:private", "jabber:iq:version", "jabber:iq:last",
		"jabber:x:data", "http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
		"http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/chatstates",
		"chat", "normal", "groupchat", "headline", "get", "set", "result", "error",
		"available", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe",
		"away", "xa", "dnd", "true", "false", "1", "0", "X-TOKEN", "PLAIN", "sha-1", "none", "both",
	} {
		values.add(s)
	}
}

// internName returns b as a string, without allocating for a common name.
func internName(b []byte) string {
	if s, ok := names.find(b); ok {
		return s
	}
	return string(b)
}

// internValue returns b as a string, without allocating for a common value.
func internValue(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := values.find(b); ok {
		return s
	}
	return string(b)
}
