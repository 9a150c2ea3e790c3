package server

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/xtokend/xtokend/internal/testkit"
)

// RFC 5929 section 4.1: the certificate's signature hash, SHA-256 in place
// of MD5 and SHA-1; none for a signature without a hash (Ed25519).
func TestEndPointHash(t *testing.T) {
	for alg, want := range map[x509.SignatureAlgorithm]int{
		x509.MD5WithRSA:                sha256.Size,
		x509.SHA1WithRSA:               sha256.Size,
		x509.ECDSAWithSHA1:             sha256.Size,
		x509.SHA256WithRSA:             sha256.Size,
		x509.ECDSAWithSHA256:           sha256.Size,
		x509.SHA384WithRSA:             sha512.Size384,
		x509.ECDSAWithSHA384:           sha512.Size384,
		x509.SHA512WithRSAPSS:          sha512.Size,
		x509.ECDSAWithSHA512:           sha512.Size,
		x509.PureEd25519:               0,
		x509.UnknownSignatureAlgorithm: 0,
	} {
		h := endPointHash(alg)
		switch {
		case want == 0 && h != nil:
			t.Errorf("%v: a hash, want none", alg)
		case want != 0 && (h == nil || h.Size() != want):
			t.Errorf("%v: %v, want a %d-byte hash", alg, h, want)
		}
	}
}

// The certificate the channel binding names is the one crypto/tls shows:
// GetCertificate's, the only one, or among several the one for the name.
func TestServedCertificate(t *testing.T) {
	a, err := testkit.SelfSigned(1, "a.example")
	if err != nil {
		t.Fatal(err)
	}
	b, err := testkit.SelfSigned(2, "b.example")
	if err != nil {
		t.Fatal(err)
	}
	noLeaf := b.TLS
	noLeaf.Leaf = nil
	cases := []struct {
		name       string
		conf       *tls.Config
		serverName string
		want       *testkit.Cert
	}{
		{"one", &tls.Config{Certificates: []tls.Certificate{a.TLS}}, "b.example", a},
		{"one, not parsed", &tls.Config{Certificates: []tls.Certificate{noLeaf}}, "", b},
		{"by name", &tls.Config{Certificates: []tls.Certificate{a.TLS, b.TLS}}, "b.example", b},
		{"no name", &tls.Config{Certificates: []tls.Certificate{a.TLS, b.TLS}}, "", a},
		{"GetCertificate", &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &b.TLS, nil }}, "", b},
	}
	for _, tc := range cases {
		got := servedCertificate(tc.conf, tc.serverName)
		if got == nil || got.SerialNumber.Int64() != tc.want.TLS.Leaf.SerialNumber.Int64() {
			t.Errorf("%s: %v, want serial %v", tc.name, got, tc.want.TLS.Leaf.SerialNumber)
		}
	}
	if got := servedCertificate(&tls.Config{}, "a.example"); got != nil {
		t.Errorf("no certificate: %v", got.Subject)
	}
}
