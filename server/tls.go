package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// buildTLS returns the TLS configuration STARTTLS uses: s.TLSConfig, the
// configured certificate, or a self-signed one made in memory. Never nil:
// mellium would otherwise make a client-side default on a server.
func (s *Server) buildTLS() (*tls.Config, error) {
	if s.opts.TLSConfig != nil {
		c := s.opts.TLSConfig.Clone()
		if c.MinVersion < tls.VersionTLS12 {
			c.MinVersion = tls.VersionTLS12
		}
		return c, nil
	}
	opts := s.cfg.TLS
	var cert tls.Certificate
	switch {
	case opts.Cert == "" && opts.Key == "":
		var err error
		cert, err = selfSigned(s.cfg.General.Hosts)
		if err != nil {
			return nil, err
		}
		// Config.Warnings, logged by build, says so.
	case opts.Cert == "" || opts.Key == "":
		return nil, fmt.Errorf("server: tls: cert and key must both be set")
	default:
		var err error
		cert, err = tls.LoadX509KeyPair(s.cfg.Resolve(opts.Cert), s.cfg.Resolve(opts.Key))
		if err != nil {
			return nil, fmt.Errorf("server: tls: cert %q: %w", opts.Cert, err)
		}
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// selfSigned makes an ECDSA P-256 certificate for hosts, valid for a year.
func selfSigned(hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: tls: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: tls: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"xtokend self-signed"}},
		DNSNames:              hosts,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: tls: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
