package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/keystore"
)

// maxUnixSocketPath is sun_path's size on Linux less the NUL.
const maxUnixSocketPath = 107

// Validate checks everything that can be checked without reading key files
// or environment variables (OpenKeystores does those): hosts, listeners,
// log level, stanza size, TLS files, and every host's module options,
// including that each names the keys mod_auth_token needs. The error is a
// *Error, one line.
func (c *Config) Validate() error {
	fail := func(e *Error) error { e.File = c.Path; return e }
	g := c.General
	if len(g.Hosts) == 0 {
		return fail(&Error{Reason: "general.hosts is empty: serve at least one host"})
	}
	served := make(map[string]bool, len(g.Hosts))
	for _, h := range g.Hosts {
		if err := checkHostName(h); err != nil {
			return fail(&Error{Reason: fmt.Sprintf("general.hosts: %q: %v", h, err)})
		}
		if served[h] {
			return fail(&Error{Reason: fmt.Sprintf("general.hosts: %q is listed twice", h)})
		}
		served[h] = true
	}
	if err := checkAddr(g.Listen); err != nil {
		return fail(&Error{Reason: fmt.Sprintf("general.listen = %q: %v", g.Listen, err)})
	}
	if g.MetricsListen != "" {
		if err := checkAddr(g.MetricsListen); err != nil {
			return fail(&Error{Reason: fmt.Sprintf("general.metrics_listen = %q: %v", g.MetricsListen, err)})
		}
	}
	if p := c.AdminSocketPath(); len(p) > maxUnixSocketPath {
		return fail(&Error{Reason: fmt.Sprintf("general.admin_socket: %q is %d bytes, over the %d a unix socket path may have", p, len(p), maxUnixSocketPath)})
	}
	switch g.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fail(&Error{Reason: fmt.Sprintf("general.log_level = %q: must be debug, info, warn or error", g.LogLevel)})
	}
	if g.MaxStanzaSize < MinMaxStanzaSize || g.MaxStanzaSize > MaxMaxStanzaSize {
		return fail(&Error{Reason: fmt.Sprintf("general.max_stanza_size = %d: must be %d (RFC 6120 section 13.12) to %d bytes", g.MaxStanzaSize, MinMaxStanzaSize, MaxMaxStanzaSize)})
	}
	if err := c.checkTLS(); err != nil {
		return fail(&Error{Module: "tls", Err: err})
	}
	if err := c.Limits.Validate(); err != nil {
		return fail(&Error{Err: err})
	}
	if err := c.WebSocket.Validate(); err != nil {
		return fail(&Error{Err: err})
	}
	if err := c.checkCluster(); err != nil {
		return fail(&Error{Err: err})
	}
	if err := c.checkStorage(); err != nil {
		return fail(&Error{Err: err})
	}

	// The global sections, even where every host has its own: a broken
	// section is a typo waiting for the next host that uses it.
	if ks := c.Modules.Keystore; ks != nil {
		if err := ks.Validate(); err != nil {
			return fail(keystoreError("", err))
		}
	}
	if at := c.Modules.AuthToken; at != nil {
		if err := at.Validate(); err != nil {
			return fail(&Error{Err: err})
		}
	}
	if sm := c.Modules.StreamManagement; sm != nil {
		if err := sm.Validate(); err != nil {
			return fail(&Error{Module: ModStreamManagement, Err: err})
		}
	}
	if f := c.Modules.FAST; f != nil {
		if err := f.Validate(); err != nil {
			return fail(&Error{Module: ModFAST, Err: err})
		}
	}
	configured := make(map[string]int, len(c.HostConfig))
	for i, hc := range c.HostConfig {
		switch prev, twice := configured[hc.Host]; {
		case hc.Host == "":
			return fail(&Error{Reason: fmt.Sprintf("host_config[%d] has no host", i)})
		case !served[hc.Host]:
			return fail(&Error{Host: hc.Host, Reason: fmt.Sprintf("host_config[%d] is for a host not in general.hosts (%s)", i, quoteList(g.Hosts))})
		case twice:
			return fail(&Error{Host: hc.Host, Reason: fmt.Sprintf("host_config[%d] and host_config[%d] are for the same host", prev, i)})
		}
		configured[hc.Host] = i
		if hc.TLS != nil {
			if err := c.checkCertPair(hc.TLS.Cert, hc.TLS.Key, hc.Host); err != nil {
				return fail(&Error{Host: hc.Host, Module: "tls", Err: err})
			}
		}
	}
	for _, h := range g.Hosts {
		hs, _ := c.Host(h)
		if err := hs.Keystore.Validate(); err != nil {
			return fail(keystoreError(h, err))
		}
		if err := hs.AuthToken.Validate(); err != nil {
			return fail(&Error{Host: h, Err: err})
		}
		if err := hs.StreamManagement.Validate(); err != nil {
			return fail(&Error{Host: h, Module: ModStreamManagement, Err: err})
		}
		if err := hs.FAST.Validate(); err != nil {
			return fail(&Error{Host: h, Module: ModFAST, Err: err})
		}
		for _, need := range []struct{ option, key string }{
			{"secret_key", hs.AuthToken.SecretKey},
			{"seed_key", hs.AuthToken.SeedKey},
		} {
			if !hs.Keystore.Has(need.key) {
				return fail(&Error{Host: h, Module: ModAuthToken,
					Reason: fmt.Sprintf("%s = %q: no such key in the host's %s (add it to its keys)", need.option, need.key, ModKeystore)})
			}
		}
	}
	return nil
}

// keystoreError turns a keystore.Options.Validate error into a Error
// naming the host, the module and the key.
func keystoreError(host string, err error) *Error {
	var ke *keystore.Error
	if errors.As(err, &ke) {
		return &Error{Host: host, Module: ModKeystore, Key: ke.Key, Reason: ke.Reason, Err: ke.Err}
	}
	return &Error{Host: host, Module: ModKeystore, Err: err}
}

// checkHostName accepts a domainpart in its canonical form (RFC 7622):
// lower case, IDNA-mapped, without a local or resource part.
func checkHostName(h string) error {
	if h == "" {
		return errors.New("empty host name")
	}
	j, err := jid.Parse(h)
	if err != nil {
		return fmt.Errorf("not a valid domain: %v", err)
	}
	if j.Localpart() != "" || j.Resourcepart() != "" {
		return errors.New("a host is a domain, without user@ or /resource")
	}
	if j.Domainpart() != h {
		return fmt.Errorf("not in canonical form; write %q", j.Domainpart())
	}
	return nil
}

func checkAddr(addr string) error {
	if addr == "" {
		return errors.New("empty address; write host:port")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// checkTLS loads the [tls] certificate and key when they are set, so a bad
// path or a mismatched pair stops start-up rather than the first STARTTLS.
func (c *Config) checkTLS() error {
	if c.TLS.Cert == "" && c.TLS.Key == "" {
		return nil // self-signed
	}
	return c.checkCertPair(c.TLS.Cert, c.TLS.Key, "")
}

// checkCertPair checks that cert and key are both set, load, and match; for a
// host's own pair ([host_config.tls]), host is its name and the certificate
// must name it.
func (c *Config) checkCertPair(cert, key, host string) error {
	neither := "set both, or neither for a self-signed certificate"
	if host != "" {
		neither = "set both, or leave out the section for the [tls] certificate"
	}
	switch {
	case cert == "" && key == "":
		return errors.New("cert and key are empty; " + neither)
	case cert == "":
		return errors.New("key is set but cert is not; " + neither)
	case key == "":
		return errors.New("cert is set but key is not; " + neither)
	}
	certPEM, err := readBounded(c.Resolve(cert))
	if err != nil {
		return fmt.Errorf("cert %q: %w", c.Resolve(cert), err)
	}
	keyPEM, err := readBounded(c.Resolve(key))
	if err != nil {
		return fmt.Errorf("key %q: %w", c.Resolve(key), err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("cert %q and key %q: %v", c.Resolve(cert), c.Resolve(key), err)
	}
	if host != "" {
		// A host's own certificate exists to name that host: one that does not
		// is a copy-paste slip that every client would refuse.
		if err := pair.Leaf.VerifyHostname(host); err != nil {
			return fmt.Errorf("cert %q does not name the host (its names: %s)", c.Resolve(cert), quoteList(certNames(pair.Leaf)))
		}
	}
	return nil
}

// certNames are the DNS names a certificate is for, for messages.
func certNames(leaf *x509.Certificate) []string {
	if len(leaf.DNSNames) > 0 {
		return leaf.DNSNames
	}
	return []string{leaf.Subject.CommonName}
}

// readBounded reads a regular file of at most 1 MiB.
func readBounded(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, shortPathError(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, shortPathError(err)
	}
	defer f.Close()
	const max = 1 << 20
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}
