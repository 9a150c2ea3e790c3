package server

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"hash"
)

// FAST with channel binding: the mechanism puts the connection's channel
// binding data after the label in both HMACs, so a FAST response works on
// the TLS connection it was made for only. Both are offered only where
// xtokend itself terminates TLS (STARTTLS); behind a proxy that terminates
// TLS, on plaintext and on WebSocket only HT-SHA-256-NONE is.
//
//   - HT-SHA-256-EXPR binds to tls-exporter (RFC 9266), which is TLS 1.3's:
//     on TLS 1.2 it must not be used without the extended master secret,
//     which crypto/tls does not let a server require.
//   - HT-SHA-256-ENDP binds to tls-server-end-point (RFC 5929): a hash of the
//     certificate the server shows. Offered on TLS 1.2 and 1.3, after EXPR
//     (the weaker binding: it names the certificate, not the connection).
//
// tls-server-unique (-UNIQ) is not offered.

const (
	fastMechanismEXPR = "HT-SHA-256-EXPR"
	fastMechanismENDP = "HT-SHA-256-ENDP"
)

// tlsState is the TLS state of the connection when the server terminates
// TLS on it.
func (c *conn) tlsState() (tls.ConnectionState, bool) {
	t, ok := c.t.(*tcpTransport)
	if !ok {
		return tls.ConnectionState{}, false
	}
	cs := t.cc.ConnectionState()
	return cs, cs.HandshakeComplete
}

// tlsExporter is the connection's tls-exporter channel binding, when the
// server terminates TLS 1.3 on it.
func (c *conn) tlsExporter() ([]byte, bool) {
	cs, ok := c.tlsState()
	if !ok || cs.Version != tls.VersionTLS13 {
		return nil, false
	}
	b, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	return b, err == nil
}

// tlsServerEndPoint is the connection's tls-server-end-point channel
// binding, when the server terminates TLS on it and its certificate's
// signature names a hash.
//
// crypto/tls does not tell a server which certificate it showed, so it is
// chosen again, as crypto/tls chose it, from the configuration STARTTLS
// used; a resumed session showed none and gets the same one. After a
// certificate reload, a client that resumes a session of the old
// certificate computes that one's hash and its -ENDP login is refused.
func (c *conn) tlsServerEndPoint() ([]byte, bool) {
	cs, ok := c.tlsState()
	if !ok || c.host == nil {
		return nil, false
	}
	leaf := servedCertificate(c.srv.tlsConfigFor(c.host.name), cs.ServerName)
	if leaf == nil {
		return nil, false
	}
	h := endPointHash(leaf.SignatureAlgorithm)
	if h == nil {
		return nil, false
	}
	h.Write(leaf.Raw)
	return h.Sum(nil), true
}

// servedCertificate is the leaf certificate conf shows to a client that
// asked for serverName, by crypto/tls's rules; nil when there is none.
func servedCertificate(conf *tls.Config, serverName string) *x509.Certificate {
	var cert *tls.Certificate
	if conf.GetCertificate != nil && (len(conf.Certificates) == 0 || serverName != "") {
		cert, _ = conf.GetCertificate(&tls.ClientHelloInfo{ServerName: serverName})
	}
	if cert == nil {
		switch len(conf.Certificates) {
		case 0:
			return nil
		case 1:
			cert = &conf.Certificates[0]
		default:
			// Several (Server.TLSConfig only): the first for the name.
			cert = &conf.Certificates[0]
			for i := range conf.Certificates {
				if l := leafOf(&conf.Certificates[i]); l != nil && l.VerifyHostname(serverName) == nil {
					cert = &conf.Certificates[i]
					break
				}
			}
		}
	}
	return leafOf(cert)
}

// leafOf is cert's leaf, parsed if tls did not keep it.
func leafOf(cert *tls.Certificate) *x509.Certificate {
	if cert == nil || len(cert.Certificate) == 0 {
		return nil
	}
	if cert.Leaf != nil {
		return cert.Leaf
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// endPointHash is RFC 5929's hash for a certificate signed with alg: the
// signature's, SHA-256 for MD5 and SHA-1; nil for a signature without a
// hash of its own (Ed25519), for which RFC 5929 defines none.
func endPointHash(alg x509.SignatureAlgorithm) hash.Hash {
	switch alg {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1,
		x509.SHA256WithRSA, x509.DSAWithSHA256, x509.ECDSAWithSHA256, x509.SHA256WithRSAPSS:
		return sha256.New()
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		return sha512.New384()
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		return sha512.New()
	}
	return nil
}

// fastOffer is which channel bindings FAST may use on a connection.
type fastOffer uint8

const (
	offerExporter fastOffer = 1 << iota
	offerEndPoint
)

// fastOffered is what FAST offers on this connection.
//
// It computes neither binding (a login that uses neither pays for none):
// the TLS version and the certificate's signature say which can be had.
func (c *conn) fastOffered() fastOffer {
	cs, ok := c.tlsState()
	if !ok {
		return 0
	}
	var o fastOffer
	if cs.Version == tls.VersionTLS13 {
		o |= offerExporter
	}
	if c.host != nil {
		if leaf := servedCertificate(c.srv.tlsConfigFor(c.host.name), cs.ServerName); leaf != nil && endPointHash(leaf.SignatureAlgorithm) != nil {
			o |= offerEndPoint
		}
	}
	return o
}

// fastChannelBinding is what mechanism binds a FAST exchange to on this
// connection; ok is false for a mechanism not offered here.
func (c *conn) fastChannelBinding(mechanism string) (cb []byte, ok bool) {
	switch mechanism {
	case fastMechanism:
		return nil, true
	case fastMechanismEXPR:
		return c.tlsExporter()
	case fastMechanismENDP:
		return c.tlsServerEndPoint()
	}
	return nil, false
}
