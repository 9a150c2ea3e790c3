package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A kept self-signed certificate lives in two files, so that it survives a
// restart: a client told to trust it once (by its fingerprint, or given the
// certificate file as its CA) keeps trusting the server. The certificate is
// its own CA for exactly that use. It is replaced when it would expire within
// selfSignedRenewBefore or no longer names every host.
const (
	selfSignedLife        = 365 * 24 * time.Hour
	selfSignedRenewBefore = 30 * 24 * time.Hour
	selfSignedOrg         = "xtokend self-signed"
)

// KeptCertificate is a self-signed certificate kept in files by
// KeepSelfSigned.
type KeptCertificate struct {
	CertFile, KeyFile string
	Leaf              *x509.Certificate
	Made              bool // made by this call (there was none to reuse)
}

// KeepSelfSigned returns the self-signed certificate for hosts kept in
// certFile (0644) and keyFile (0600): the one already there when it loads,
// names every host and has more than a month left; else a new one, written
// there first.
func KeepSelfSigned(certFile, keyFile string, hosts []string, now time.Time) (*KeptCertificate, error) {
	if len(hosts) == 0 {
		return nil, errors.New("server: tls: a certificate needs at least one host")
	}
	if leaf, err := loadKept(certFile, keyFile); err == nil && keptStillGood(leaf, hosts, now) {
		return &KeptCertificate{CertFile: certFile, KeyFile: keyFile, Leaf: leaf}, nil
	}
	certPEM, keyPEM, leaf, err := makeSelfSigned(hosts, now)
	if err != nil {
		return nil, err
	}
	// The key first: a certificate file is never newer than its key's.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("server: tls: keep the self-signed key: %w", err)
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("server: tls: keep the self-signed certificate: %w", err)
	}
	return &KeptCertificate{CertFile: certFile, KeyFile: keyFile, Leaf: leaf, Made: true}, nil
}

// Fingerprint is the SHA-256 of a certificate's DER bytes as clients show
// it: upper-case hex pairs joined by colons.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hexPairs(sum[:])
}

// FingerprintSHA1 is Fingerprint with SHA-1, for clients that show only that
// (Profanity 0.13).
func FingerprintSHA1(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return hexPairs(sum[:])
}

func hexPairs(b []byte) string {
	pairs := make([]string, len(b))
	for i, c := range b {
		pairs[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(pairs, ":")
}

func loadKept(certFile, keyFile string) (*x509.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(pair.Certificate[0])
}

func keptStillGood(leaf *x509.Certificate, hosts []string, now time.Time) bool {
	if now.Add(selfSignedRenewBefore).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return false
	}
	for _, h := range hosts {
		if !slices.Contains(leaf.DNSNames, h) {
			return false
		}
	}
	return true
}

// makeSelfSigned makes an ECDSA P-256 certificate for hosts that is its own
// CA, as PEM (the key PKCS #8).
func makeSelfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, leaf *x509.Certificate, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("server: tls: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("server: tls: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{selfSignedOrg}},
		DNSNames:              hosts,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedLife),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that a client can take the file as its CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("server: tls: %w", err)
	}
	if leaf, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, nil, fmt.Errorf("server: tls: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("server: tls: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), leaf, nil
}

// writeFileAtomic writes data to a new file beside path and renames it over
// path, so that a reader sees the old content or the new, never half.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
