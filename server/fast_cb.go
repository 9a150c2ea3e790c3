package server

import "crypto/tls"

// FAST with channel binding: HT-SHA-256-EXPR puts the connection's
// tls-exporter value (RFC 9266, TLS 1.3 only) after the label in both
// HMACs, so a FAST response works on the TLS connection it was made for
// only. It is offered where xtokend itself terminates TLS 1.3 (STARTTLS or
// direct TLS on the c2s port); behind a proxy that terminates TLS, or on
// TLS 1.2, only HT-SHA-256-NONE is. tls-server-end-point (-ENDP) is not
// offered.

const fastMechanismEXPR = "HT-SHA-256-EXPR"

// tlsExporter is the connection's tls-exporter channel binding, when the
// server terminates TLS 1.3 on it.
func (c *conn) tlsExporter() ([]byte, bool) {
	t, ok := c.t.(*tcpTransport)
	if !ok {
		return nil, false
	}
	cs := t.cc.ConnectionState()
	if !cs.HandshakeComplete || cs.Version != tls.VersionTLS13 {
		return nil, false
	}
	b, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	return b, err == nil
}

// fastChannelBinding is what mechanism binds a FAST exchange to on this
// connection; ok is false for a mechanism not offered here.
func (c *conn) fastChannelBinding(mechanism string) (cb []byte, ok bool) {
	switch mechanism {
	case fastMechanism:
		return nil, true
	case fastMechanismEXPR:
		return c.tlsExporter()
	}
	return nil, false
}
