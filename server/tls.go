package server

import (
	"crypto/tls"
	"fmt"
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

// selfSigned makes a certificate for hosts in memory, valid for a year: the
// one shown when no [tls] certificate is set and none is kept in files.
func selfSigned(hosts []string) (tls.Certificate, error) {
	certPEM, keyPEM, _, err := makeSelfSigned(hosts, time.Now())
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: tls: %w", err)
	}
	return cert, nil
}
