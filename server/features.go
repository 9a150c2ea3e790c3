package server

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/xtokend/xtokend/sasl"
)

// What the server writes during negotiation is bytes, built by appending, not
// tokens through an encoder: a login writes a handful of short, mostly
// constant strings, and an encoder (with its 4 KB buffer per stream) cost more
// than everything else the login does outside the system calls.

// Namespaces of negotiation.
const (
	nsClient   = "jabber:client"
	nsStartTLS = "urn:ietf:params:xml:ns:xmpp-tls"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// The stream features of each stage. They name no host, so one copy serves
// every host.
const (
	// Before TLS, with tls.require_starttls: STARTTLS only (SASL is never
	// offered on an insecure stream).
	featuresStartTLS = "<stream:features><starttls xmlns='" + nsStartTLS + "'><required></required></starttls></stream:features>"
	// Secure (TLS, or plaintext by configuration) and not authenticated.
	// RFC 6120's SASL, then SASL2 (XEP-0388) with the same mechanisms and
	// the inline features: Bind2 and FAST.
	featuresSASL = "<stream:features><mechanisms xmlns='" + sasl.NS + "'><mechanism>" + sasl.MechanismName + "</mechanism></mechanisms>" +
		"<authentication xmlns='" + nsSASL2 + "'><mechanism>" + sasl.MechanismName + "</mechanism>" + inlineSASL2 + "</authentication></stream:features>"
	// The same for a host with mod_auth_token's plain = true: PLAIN after
	// X-TOKEN, the order of sasl.Options.Mechanisms.
	featuresSASLPlain = "<stream:features><mechanisms xmlns='" + sasl.NS + "'><mechanism>" + sasl.MechanismName + "</mechanism><mechanism>" + sasl.PlainMechanismName + "</mechanism></mechanisms>" +
		"<authentication xmlns='" + nsSASL2 + "'><mechanism>" + sasl.MechanismName + "</mechanism><mechanism>" + sasl.PlainMechanismName + "</mechanism>" + inlineSASL2 + "</authentication></stream:features>"
	// What a SASL2 <authenticate/> may carry besides the credentials.
	inlineSASL2 = "<inline>" + featureBind2 + featureSM + fastNone + "</inline>"
	fastNone    = "<fast xmlns='" + nsFAST + "'><mechanism>" + fastMechanism + "</mechanism></fast>"
	// Authenticated: resource binding.
	featuresBind = "<stream:features><bind xmlns='" + nsBind + "'></bind>" + featureSM + "</stream:features>"

	answerProceed = "<proceed xmlns='" + nsStartTLS + "'/>"
)

// The same where FAST may bind to the connection's TLS, by fastOffer and
// by mod_auth_token's plain.
var saslFeaturesBound = func() (f [2][4]string) {
	for o := fastOffer(0); o < 4; o++ {
		fast := "<fast xmlns='" + nsFAST + "'>"
		if o&offerExporter != 0 {
			fast += "<mechanism>" + fastMechanismEXPR + "</mechanism>" // the stronger binding first
		}
		if o&offerEndPoint != 0 {
			fast += "<mechanism>" + fastMechanismENDP + "</mechanism>"
		}
		fast += "<mechanism>" + fastMechanism + "</mechanism></fast>"
		f[0][o] = strings.Replace(featuresSASL, fastNone, fast, 1)
		f[1][o] = strings.Replace(featuresSASLPlain, fastNone, fast, 1)
	}
	return f
}()

// saslFeatures are the SASL stage's stream features for host h: the
// mechanisms its saslConfig accepts, and FAST's, with the channel-binding
// ones offer names first.
func saslFeatures(h *host, offer fastOffer) string {
	plain := 0
	if h.settings.AuthToken.Plain {
		plain = 1
	}
	return saslFeaturesBound[plain][offer]
}

// appendStreamHeader appends the server's stream header for host, with a
// fresh stream id, and 'to' set to the client's 'from' if it gave one.
func appendStreamHeader(b []byte, host, to string) []byte {
	b = append(b, "<?xml version='1.0'?><stream:stream xmlns='"+nsClient+"' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='"...)
	b = appendStreamID(b)
	b = append(b, '\'')
	if to != "" {
		b = append(b, " to='"...)
		b = appendEscaped(b, to)
		b = append(b, '\'')
	}
	if host != "" {
		b = append(b, " from='"...)
		b = appendEscaped(b, host)
		b = append(b, '\'')
	}
	return append(b, '>')
}

// appendStreamID appends 16 random bytes in hex: stream ids must not be
// guessable (RFC 6120 section 4.7.3).
func appendStreamID(b []byte) []byte {
	var id [16]byte
	rand.Read(id[:])
	return hex.AppendEncode(b, id[:])
}

// appendBindResult appends the result of a bind request.
func appendBindResult(b []byte, id, full string) []byte {
	b = append(b, "<iq xmlns='"+nsClient+"' type='result' id='"...)
	b = appendEscaped(b, id)
	b = append(b, "'><bind xmlns='"+nsBind+"'><jid>"...)
	b = appendEscaped(b, full)
	return append(b, "</jid></bind></iq>"...)
}

// appendIQError appends an error answer to the iq with id. typ and cond
// are the server's own constants (stanza.ErrorType, stanza.Condition).
func appendIQError(b []byte, id, typ, cond string) []byte {
	b = append(b, "<iq xmlns='"+nsClient+"' type='error' id='"...)
	b = appendEscaped(b, id)
	b = append(b, "'><error type='"...)
	b = append(b, typ...)
	b = append(b, "'><"...)
	b = append(b, cond...)
	return append(b, " xmlns='"+nsStanzas+"'/></error></iq>"...)
}

// appendEscaped appends s escaped for XML text and attribute values (either
// quote), as xml.EscapeText would write it.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\'':
			esc = "&#39;"
		case '"':
			esc = "&#34;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}
