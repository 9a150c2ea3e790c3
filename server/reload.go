package server

import (
	"fmt"
	"sort"

	"github.com/xtokend/xtokend/keystore"
)

// Reload re-reads every host's file and env keys and the TLS certificates
// ([tls] and each [host_config.tls]; SIGHUP), and rebuilds the verifiers, while sessions stay up:
//
//   - RAM keys keep their bytes (they exist nowhere else), so tokens minted
//     for hosts with only RAM keys stay valid.
//   - Tokens verified after Reload returns use the new keys; a login that has
//     already started finishes with the keys it started with.
//   - The replay cache is kept, so a token used before cannot be used again.
//   - The configuration file is read again for its mod_keystore sections
//     only (reloadKeyConfig): keys, paths, variables and accepted versions, so a
//     file or env key rotates with an edit and SIGHUP. Hosts and every other
//     option are the ones the server started with; change those with a
//     restart.
//
// Everything that can fail is checked before anything is swapped: if a key
// file is missing or does not decode, two hosts would now share a key, or
// a certificate does not load, Reload changes nothing, logs why and
// returns the error; the keys and certificate in force stay in force.
func (s *Server) Reload() error {
	o := &s.ops
	o.reloadMu.Lock()
	defer o.reloadMu.Unlock()
	log := s.logger()
	err := s.reload()
	o.metrics.OnReload(err == nil)
	if err != nil {
		log.Error("reload refused: the keys and certificate in force stay in force", "err", err)
		return err
	}
	log.Info("reloaded keys and certificate", "hosts", len(s.hosts))
	return nil
}

func (s *Server) reload() error {
	log := s.logger()
	// 1. Check: open every keystore afresh, each key file read once, with
	// the RAM keys in force, through the same path as at start (files,
	// decoding, keys mod_auth_token needs, keys shared across hosts,
	// verifiers), without touching what is in force.
	cfg, err := s.reloadKeyConfig()
	if err != nil {
		return err
	}
	fresh, warnings, err := cfg.OpenKeys(s.keySource(func(host string) *keystore.Store {
		return s.lookupHost(host).keys.Load().store
	}))
	if err != nil {
		return fmt.Errorf("server: reload: %w", err)
	}
	for _, w := range warnings {
		log.Warn(w.String())
	}
	certs, err := s.loadCertificates()
	if err != nil {
		return err
	}

	// 2. Swap: every host's new store and verifier, then the certificates.
	names := make([]string, 0, len(s.hosts))
	for _, h := range s.hosts {
		names = append(names, h.name)
	}
	sort.Strings(names)
	for _, name := range names {
		h := s.lookupHost(name)
		k := fresh[name]
		if old := h.keys.Load().store; k.Store.KeepRotation(old) {
			// A RAM-key rotation in its window: the fresh verifier must
			// accept the old bytes too.
			v, err := s.newVerifier(name, k.Store, h.settings.AuthToken)
			if err != nil {
				log.Error("reload: the verifier of a host in a RAM-key rotation", "host", name, "err", err)
			} else {
				k.Verifier = v
			}
		}
		h.keys.Store(&hostKeys{store: k.Store, verifier: k.Verifier})
		s.announceKeys(name, k.Store) // a cluster compares file and env keys
	}
	s.putCertificates(certs)
	return nil
}
