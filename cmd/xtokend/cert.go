package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server"
)

// Without a [tls] certificate, serve shows a self-signed one that it keeps in
// these two files in the config's folder (the current folder for the
// built-in default), so that a client told to trust it once keeps trusting
// it across restarts.
const (
	keptCertFile = "xtokend-cert.pem"
	keptKeyFile  = "xtokend-key.pem"
)

// usesSelfSigned reports whether some host of cfg shows the self-signed
// certificate: no [tls] pair, and a host without a [host_config.tls] of its own.
func usesSelfSigned(cfg *config.Config) bool {
	if cfg.TLS.Cert != "" || cfg.TLS.Key != "" {
		return false
	}
	for _, h := range cfg.General.Hosts {
		if hs, _ := cfg.Host(h); hs.TLS == nil {
			return true
		}
	}
	return false
}

// keepSelfSigned points cfg's [tls] pair at the kept self-signed certificate,
// making it first when there is none to reuse.
func keepSelfSigned(cfg *config.Config) (*server.KeptCertificate, error) {
	kept, err := server.KeepSelfSigned(cfg.Resolve(keptCertFile), cfg.Resolve(keptKeyFile), cfg.General.Hosts, time.Now())
	if err != nil {
		return nil, err
	}
	cfg.TLS.Cert, cfg.TLS.Key = kept.CertFile, kept.KeyFile
	return kept, nil
}

// runCert is "xtokend cert [-config F]": print each certificate STARTTLS
// shows, with its SHA-256 fingerprint, so that clients can be told to trust it.
func runCert(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: xtokend cert [-config FILE]")
		fmt.Fprintln(fs.Output(), "Prints the file, hosts, SHA-256 and SHA-1 fingerprints and expiry of each certificate the server shows.")
		fmt.Fprintln(fs.Output(), "Without a [tls] certificate that is a self-signed one kept in "+keptCertFile+" beside the")
		fmt.Fprintln(fs.Output(), "configuration (made now when there is none yet; xtokend serve shows the same).")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	cfg, ok := findConfig(*configPath, stderr)
	if !ok {
		return exitUsage
	}
	var shown []shownCert
	if usesSelfSigned(cfg) {
		kept, err := keepSelfSigned(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "xtokend: cert: %v\n", err)
			return exitFailed
		}
		kind := "self-signed, kept by xtokend"
		if kept.Made {
			kind += " (made now)"
		}
		shown = append(shown, shownCert{file: kept.CertFile, kind: kind, hosts: hostsWithoutOwnCert(cfg), leaf: kept.Leaf})
	} else if cfg.TLS.Cert != "" {
		leaf, err := readLeaf(cfg.Resolve(cfg.TLS.Cert))
		if err != nil {
			fmt.Fprintf(stderr, "xtokend: cert: [tls] cert: %v\n", err)
			return exitFailed
		}
		shown = append(shown, shownCert{file: cfg.Resolve(cfg.TLS.Cert), kind: "[tls] cert", hosts: hostsWithoutOwnCert(cfg), leaf: leaf})
	}
	for _, h := range cfg.General.Hosts {
		hs, _ := cfg.Host(h)
		if hs.TLS == nil {
			continue
		}
		leaf, err := readLeaf(cfg.Resolve(hs.TLS.Cert))
		if err != nil {
			fmt.Fprintf(stderr, "xtokend: cert: host %q: %v\n", h, err)
			return exitFailed
		}
		shown = append(shown, shownCert{file: cfg.Resolve(hs.TLS.Cert), kind: "[host_config.tls] cert", hosts: []string{h}, leaf: leaf})
	}
	for i, c := range shown {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		c.print(stdout)
	}
	return exitOK
}

// shownCert is one certificate the server shows, for runCert.
type shownCert struct {
	file, kind string
	hosts      []string
	leaf       *x509.Certificate
}

func (c shownCert) print(w io.Writer) {
	fmt.Fprintf(w, "file     %s\n", c.file)
	fmt.Fprintf(w, "kind     %s\n", c.kind)
	fmt.Fprintf(w, "hosts    %s\n", strings.Join(c.hosts, " "))
	fmt.Fprintf(w, "sha256   %s\n", server.Fingerprint(c.leaf))
	fmt.Fprintf(w, "sha1     %s\n", server.FingerprintSHA1(c.leaf))
	fmt.Fprintf(w, "expires  %s\n", c.leaf.NotAfter.UTC().Format(time.RFC3339))
}

// hostsWithoutOwnCert lists the hosts that show the [tls] certificate.
func hostsWithoutOwnCert(cfg *config.Config) []string {
	var out []string
	for _, h := range cfg.General.Hosts {
		if hs, _ := cfg.Host(h); hs.TLS == nil {
			out = append(out, h)
		}
	}
	return out
}

// readLeaf reads the first certificate of a PEM file.
func readLeaf(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New(path + ": no PEM certificate")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}
