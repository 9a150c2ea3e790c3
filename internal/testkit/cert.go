package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"time"
)

// Cert is a self-signed ECDSA P-256 certificate that is its own CA: a client
// that trusts it (Pool, or the PEM file) trusts that server and nothing else.
type Cert struct {
	TLS     tls.Certificate // with Leaf set
	CertPEM []byte
	KeyPEM  []byte // PKCS #8
}

// SelfSigned makes a certificate for names (the first is the common name),
// valid from an hour ago for a day. serial 0 picks a random serial; tests that
// check which certificate a server showed (after a reload, say) choose theirs.
func SelfSigned(serial int64, names ...string) (*Cert, error) {
	if len(names) == 0 {
		return nil, errors.New("testkit: a certificate needs at least one name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn := big.NewInt(serial)
	if serial == 0 {
		if sn, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)); err != nil {
			return nil, err
		}
		sn.Add(sn, big.NewInt(1))
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"xtokend tests"}},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Cert{
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// Pool returns a pool that trusts only this certificate.
func (c *Cert) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.TLS.Leaf)
	return pool
}

// WriteFiles writes the certificate (0644) and its key (0600) as PEM.
func (c *Cert) WriteFiles(certFile, keyFile string) error {
	if err := os.WriteFile(certFile, c.CertPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, c.KeyPEM, 0o600)
}
