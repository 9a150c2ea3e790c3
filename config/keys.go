package config

import (
	"fmt"

	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/sasl"
)

// HostKeys are one host's keystore and the verifier built from it: what a
// login's HMAC and OTP are checked with, and what a token is minted with.
type HostKeys struct {
	Store    *keystore.Store
	Verifier *sasl.Verifier
}

// KeySource says where what the key files do not hold comes from.
type KeySource struct {
	// RAM gives a host's RAM keys (a cluster's, or those in force at a
	// reload); nil, or a nil result, draws fresh ones from crypto/rand.
	RAM func(host string) keystore.RAMSource
	// Verifier builds a host's verifier from its store with the caller's
	// replay check; nil builds one without (tools that mint or inspect).
	Verifier func(host string, store *keystore.Store, opts sasl.Options) (*sasl.Verifier, error)
}

// OpenKeys is the one path from the configuration to a host's HMAC: it
// opens every served host's keystore (each key file read once), checks what
// spans hosts (the keys mod_auth_token names, keys shared between hosts) and
// builds each host's verifier. Start-up and reload use it; nothing is in
// force until the caller swaps the result in. Errors are one line (exit 2).
func (c *Config) OpenKeys(src KeySource) (map[string]HostKeys, []keystore.Warning, error) {
	stores, warns, err := c.openKeystores(src.RAM)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]HostKeys, len(stores))
	for _, h := range c.General.Hosts {
		hs, _ := c.Host(h)
		v, err := newVerifier(src, h, stores[h], hs.AuthToken)
		if err != nil {
			return nil, nil, &Error{File: c.Path, Host: h, Err: err}
		}
		out[h] = HostKeys{Store: stores[h], Verifier: v}
	}
	return out, warns, nil
}

// OpenHostKeys is OpenKeys for one host alone (xtokend token): the other
// hosts' keys are not read, so nothing is checked across hosts.
func (c *Config) OpenHostKeys(host string, src KeySource) (HostKeys, []keystore.Warning, error) {
	hs, ok := c.Host(host)
	if !ok {
		return HostKeys{}, nil, &Error{File: c.Path, Host: host, Reason: "not served"}
	}
	var ram keystore.RAMSource
	if src.RAM != nil {
		ram = src.RAM(host)
	}
	store, warns, err := keystore.NewWithRAM(host, hs.Keystore, c.Dir, c.LookupEnv, ram)
	if err != nil {
		return HostKeys{}, nil, &Error{File: c.Path, Err: err}
	}
	if err := c.checkRequiredKeys(host, hs, store); err != nil {
		return HostKeys{}, nil, err
	}
	v, err := newVerifier(src, host, store, hs.AuthToken)
	if err != nil {
		return HostKeys{}, nil, &Error{File: c.Path, Host: host, Err: err}
	}
	return HostKeys{Store: store, Verifier: v}, warns, nil
}

func newVerifier(src KeySource, host string, store *keystore.Store, opts sasl.Options) (*sasl.Verifier, error) {
	if src.Verifier != nil {
		return src.Verifier(host, store, opts)
	}
	return sasl.NewVerifier(host, store, opts, nil)
}

// checkRequiredKeys: the host's keystore has the keys its mod_auth_token
// names (secret_key, seed_key).
func (c *Config) checkRequiredKeys(host string, hs HostSettings, s *keystore.Store) error {
	for _, need := range []struct{ option, key string }{
		{"secret_key", hs.AuthToken.SecretKey},
		{"seed_key", hs.AuthToken.SeedKey},
	} {
		if !s.Has(need.key) {
			return &Error{File: c.Path, Host: host, Module: ModAuthToken,
				Reason: fmt.Sprintf("%s = %q: no such key in the host's %s", need.option, need.key, ModKeystore)}
		}
	}
	return nil
}
