package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"
)

// certStore holds the certificates STARTTLS shows that come from files: the
// [tls] one and each host's own ([host_config.tls]). Reload loads them all
// again and swaps them only when every one loaded.
//
// The certificate is picked by the host named in the client's stream header
// (its 'to', read before STARTTLS), not by TLS SNI: the stream's host is the
// one the client authenticates against, and it is known even when a client
// sends no SNI.
type certStore struct {
	global *certSlot            // nil: self-signed, or Server.TLSConfig's
	hosts  map[string]*hostCert // hosts with a certificate of their own; fixed at start
}

// certSlot is one configured certificate and key.
type certSlot struct {
	cert, key string // as configured, for messages
	cur       atomic.Pointer[tls.Certificate]
}

// hostCert is a host's own certificate and the TLS configuration that shows
// it (the server's, with that certificate).
type hostCert struct {
	certSlot
	conf *tls.Config
}

// initCerts makes the configured certificates reloadable: base is the TLS
// configuration built from [tls] (buildTLS). With Server.TLSConfig set,
// every host shows that configuration's certificates and nothing here
// applies.
func (s *Server) initCerts(base *tls.Config) error {
	if s.opts.TLSConfig != nil {
		return nil
	}
	cs := &s.certs
	if s.cfg.TLS.Cert != "" && len(base.Certificates) == 1 {
		cs.global = &certSlot{cert: s.cfg.TLS.Cert, key: s.cfg.TLS.Key}
		cs.global.cur.Store(&base.Certificates[0])
		base.Certificates = nil
		slot := cs.global
		base.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return slot.cur.Load(), nil }
	}
	for _, name := range s.cfg.General.Hosts {
		hs, _ := s.cfg.Host(name)
		if hs.TLS == nil {
			continue
		}
		hc := &hostCert{certSlot: certSlot{cert: hs.TLS.Cert, key: hs.TLS.Key}}
		pair, err := s.loadPair(&hc.certSlot)
		if err != nil {
			return fmt.Errorf("server: host %q: %w", name, err)
		}
		hc.cur.Store(pair)
		hc.conf = base.Clone()
		hc.conf.Certificates = nil
		hc.conf.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return hc.cur.Load(), nil }
		if cs.hosts == nil {
			cs.hosts = make(map[string]*hostCert)
		}
		cs.hosts[name] = hc
	}
	return nil
}

// tlsConfigFor is the TLS configuration STARTTLS uses on a stream to host.
// Never nil.
func (s *Server) tlsConfigFor(host string) *tls.Config {
	if hc := s.certs.hosts[host]; hc != nil {
		return hc.conf
	}
	return s.tlsConf
}

// loadPair reads a configured certificate and key; an expired certificate
// is refused (a reload that would put it in force is a mistake).
func (s *Server) loadPair(slot *certSlot) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(s.cfg.Resolve(slot.cert), s.cfg.Resolve(slot.key))
	if err != nil {
		return nil, fmt.Errorf("tls: cert %q: %w", slot.cert, err)
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		cert.Leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	if cert.Leaf != nil && time.Now().After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("tls: cert %q expired on %s", slot.cert, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// loadedCert is a certificate Reload has read and will put in force.
type loadedCert struct {
	host string // "" for [tls]
	slot *certSlot
	cert *tls.Certificate
}

// loadCertificates reads every configured certificate again, for Reload:
// all of them or an error.
func (s *Server) loadCertificates() ([]loadedCert, error) {
	var out []loadedCert
	if slot := s.certs.global; slot != nil {
		cert, err := s.loadPair(slot)
		if err != nil {
			return nil, fmt.Errorf("server: reload: %w", err)
		}
		out = append(out, loadedCert{slot: slot, cert: cert})
	}
	for _, name := range s.cfg.General.Hosts {
		hc := s.certs.hosts[name]
		if hc == nil {
			continue
		}
		cert, err := s.loadPair(&hc.certSlot)
		if err != nil {
			return nil, fmt.Errorf("server: reload: host %q: %w", name, err)
		}
		out = append(out, loadedCert{host: name, slot: &hc.certSlot, cert: cert})
	}
	return out, nil
}

// putCertificates puts what loadCertificates read in force.
func (s *Server) putCertificates(certs []loadedCert) {
	log := s.logger()
	for _, c := range certs {
		c.slot.cur.Store(c.cert)
		if c.cert.Leaf == nil {
			continue
		}
		attrs := []any{"file", c.slot.cert, "not_after", c.cert.Leaf.NotAfter.UTC().Format(time.RFC3339)}
		if c.host != "" {
			attrs = append([]any{"host", c.host}, attrs...)
		}
		log.Info("reloaded the TLS certificate", attrs...)
	}
}
