package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xtokend/xtokend/config"
)

// A file or env key rotates through its accept list (see the keystore
// package), one configuration edit and one SIGHUP per step. So that the
// edit takes, a reload reads the configuration file again and takes from it
// the keys of mod_keystore, globally and in each [[host_config]]: which
// keys, their paths, variables, encodings and accepted versions. Everything
// else stays as the server started with it (hosts, listeners, options); a
// file whose general.hosts changed is refused, since hosts only change with
// a restart. A file that no longer parses is refused too, and the keys in
// force stay in force.

// reloadKeyConfig reads the configuration file again and returns the
// configuration keys are opened from: the one the server runs with, with
// the file's mod_keystore sections. The built-in default has no file.
func (s *Server) reloadKeyConfig() (*config.Config, error) {
	cur := s.cfg
	if cur.Path == "" {
		return cur, nil
	}
	if _, err := os.Stat(cur.Path); errors.Is(err, fs.ErrNotExist) {
		// Gone since the start (or never written, as by a program that
		// builds its configuration): the key specs in force are kept.
		s.logger().Warn("reload: the configuration file is gone; re-reading the keys it named at start", "file", cur.Path)
		return cur, nil
	}
	fresh, err := config.Load(cur.Path)
	if err != nil {
		return nil, fmt.Errorf("server: reload: %w", err)
	}
	if !slices.Equal(fresh.General.Hosts, cur.General.Hosts) {
		return nil, fmt.Errorf("server: reload: %s: general.hosts changed; hosts change with a restart", cur.Path)
	}
	return withKeystores(cur, fresh), nil
}

// withKeystores is a copy of cur whose mod_keystore sections are fresh's.
func withKeystores(cur, fresh *config.Config) *config.Config {
	c := *cur
	c.Modules.Keystore = fresh.Modules.Keystore
	c.HostConfig = slices.Clone(cur.HostConfig)
	done := make(map[string]bool)
	for i := range c.HostConfig {
		c.HostConfig[i].Modules.Keystore = nil // the global section, unless fresh has one
		for _, f := range fresh.HostConfig {
			if f.Host == c.HostConfig[i].Host {
				c.HostConfig[i].Modules.Keystore = f.Modules.Keystore
				done[f.Host] = true
			}
		}
	}
	for _, f := range fresh.HostConfig {
		if !done[f.Host] && f.Modules.Keystore != nil {
			c.HostConfig = append(c.HostConfig, config.HostConfig{Host: f.Host, Modules: config.Modules{Keystore: f.Modules.Keystore}})
		}
	}
	return &c
}

// keyLifeMetrics are the metrics of key rotation.
type keyLifeMetrics struct {
	accepted *prometheus.CounterVec
}

// register makes the metrics and adds them to m's registry; without metrics
// (nil m) the hooks count nothing.
func (k *keyLifeMetrics) register(m *Metrics) {
	if m == nil {
		return
	}
	k.accepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xtokend_logins_accepted_key_version_total",
		Help: "Logins whose token verified with a version of a key listed in accept (in rotation), not the one in force, per host. While it stays at 0 for a token lifetime, the accepted version can go.",
	}, []string{"host"})
	m.Registry().MustRegister(k.accepted)
}

// acceptedVersion is sasl.VerifierHooks.AcceptedVersion.
func (k *keyLifeMetrics) acceptedVersion(host string) {
	if k.accepted != nil {
		k.accepted.WithLabelValues(host).Inc()
	}
}
