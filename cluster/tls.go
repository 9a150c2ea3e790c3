package cluster

import (
	"crypto/ed25519"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// The links are TLS 1.3, both ways authenticated by one Ed25519 key that
// every node derives from the cluster secret. A peer proves it holds the
// secret by signing the handshake with that key; each side checks the other
// presents exactly that public key. There is no CA and nothing to renew: the
// certificate only carries the key. A node without the secret cannot complete
// a handshake, and nothing on the wire is readable without it.

const linkServerName = "xtokend-cluster"

func linkTLS(key ed25519.PrivateKey) (server, client *tls.Config, err error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: linkServerName},
		DNSNames:     []string{linkServerName},
		NotBefore:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	pub := key.Public().(ed25519.PublicKey)
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: making the link certificate: %v", Section, err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	verify := func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
		if len(rawCerts) == 0 {
			return errors.New("cluster: peer sent no certificate")
		}
		c, err := x509.ParseCertificate(rawCerts[0])
		if err != nil {
			return errors.New("cluster: peer certificate does not parse")
		}
		got, ok := c.PublicKey.(ed25519.PublicKey)
		if !ok || subtle.ConstantTimeCompare(got, pub) != 1 {
			return errors.New("cluster: peer does not hold the cluster secret")
		}
		return nil
	}
	server = &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{cert},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: verify,
	}
	client = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ServerName:   linkServerName,
		// The chain check is replaced by VerifyPeerCertificate's pin on the
		// cluster's public key, which is stricter than any CA.
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: verify,
	}
	return server, client, nil
}
