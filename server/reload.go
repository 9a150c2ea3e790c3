package server

import (
	"errors"
	"fmt"
	"sort"

	"github.com/xtokend/xtokend/sasl"
)

// Reload re-reads every host's file and env keys and the TLS certificates
// ([tls] and each [host_config.tls]; SIGHUP), and rebuilds the verifiers, while sessions stay up:
//
//   - RAM keys keep their bytes (they exist nowhere else), so tokens minted
//     for hosts with only RAM keys stay valid.
//   - Tokens verified after Reload returns use the new keys; a login that has
//     already started finishes with the keys it started with.
//   - The replay cache is kept, so a token used before cannot be used again.
//   - The configuration file itself is not read again: hosts, key names,
//     paths and options are the ones the server started with. Change those
//     with a restart.
//
// Everything that can fail is checked before anything is swapped: if a key
// file is missing or does not decode, two hosts would now share a key, or
// a certificate does not load, Reload changes nothing, logs why and
// returns the error; the keys and certificate in force stay in force.
func (s *Server) Reload() error {
	if err := s.init(); err != nil {
		return err
	}
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
	// 1. Check: open every keystore afresh (the same checks as at start:
	// files, decoding, keys mod_auth_token needs, keys shared across hosts)
	// and build a verifier from each, without touching what is in force.
	fresh, warnings, err := s.cfg.OpenKeystoresWithWarnings()
	if err != nil {
		return fmt.Errorf("server: reload: %w", err)
	}
	for _, w := range warnings {
		log.Warn(w.String())
	}
	names := make([]string, 0, len(s.hosts))
	for _, h := range s.hosts {
		names = append(names, h.name)
		store, ok := fresh[h.name]
		if !ok {
			return fmt.Errorf("server: reload: host %q: no keystore", h.name)
		}
		if _, err := sasl.NewVerifier(h.name, store, h.settings.AuthToken, nil); err != nil {
			return fmt.Errorf("server: reload: host %q: %w", h.name, err)
		}
	}
	sort.Strings(names)
	certs, err := s.loadCertificates()
	if err != nil {
		return err
	}

	// 2. Swap. Each running store re-reads its file and env keys (keeping
	// its RAM keys) and a verifier is built from it. The files were read
	// fine a moment ago; should one have changed since, that host keeps its
	// old keys and the error says so.
	var errs []error
	for _, name := range names {
		h := s.lookupHost(name)
		store := h.keys.Load().store
		if _, err := store.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("server: reload: host %q kept its old keys: %w", name, err))
			continue
		}
		if err := s.ReplaceKeys(name, store); err != nil {
			errs = append(errs, fmt.Errorf("server: reload: host %q: %w", name, err))
		}
	}
	s.putCertificates(certs)
	return errors.Join(errs...)
}
