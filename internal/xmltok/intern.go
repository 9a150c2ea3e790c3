package xmltok

// The names and attribute values nearly every stream and stanza carries
// are returned as these strings rather than allocated each time. A lookup
// of a []byte converted in the index expression allocates nothing.
var (
	names  = map[string]string{}
	values = map[string]string{}
)

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
		names[s] = s
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
		values[s] = s
	}
}

// internName returns b as a string, without allocating for a common name.
func internName(b []byte) string {
	if s, ok := names[string(b)]; ok {
		return s
	}
	return string(b)
}

// internValue returns b as a string, without allocating for a common value.
func internValue(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) <= 48 {
		if s, ok := values[string(b)]; ok {
			return s
		}
	}
	return string(b)
}
