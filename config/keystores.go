package config

import (
	"fmt"
	"log/slog"

	"github.com/xtokend/xtokend/keystore"
)

// OpenKeystores builds every host's keystore and checks what spans hosts
// (shared keys, keys mod_auth_token needs). Errors are start-up errors (exit 2).
// Warnings (key files readable by group or others) go to slog.Default().
func (c *Config) OpenKeystores() (map[string]*keystore.Store, error) {
	stores, warns, err := c.OpenKeystoresWithWarnings()
	for _, w := range warns {
		slog.Warn(w.String())
	}
	return stores, err
}

// OpenKeystoresWithWarnings is OpenKeystores for callers that report the
// warnings themselves (check-config prints them).
func (c *Config) OpenKeystoresWithWarnings() (map[string]*keystore.Store, []keystore.Warning, error) {
	return c.openKeystores(nil)
}

// openKeystores opens and checks every host's keystore. ramFor, when not nil,
// gives each host's RAM keys (a cluster's); nil draws them from crypto/rand.
func (c *Config) openKeystores(ramFor func(host string) keystore.RAMSource) (map[string]*keystore.Store, []keystore.Warning, error) {
	stores := make(map[string]*keystore.Store, len(c.General.Hosts))
	var warns []keystore.Warning
	for _, h := range c.General.Hosts {
		hs, ok := c.Host(h)
		if !ok {
			return nil, nil, &Error{File: c.Path, Host: h, Reason: "not served"}
		}
		var ram keystore.RAMSource // nil: drawn from crypto/rand
		if ramFor != nil {
			ram = ramFor(h)
		}
		s, w, err := keystore.NewWithRAM(h, hs.Keystore, c.Dir, c.LookupEnv, ram)
		if err != nil {
			return nil, nil, &Error{File: c.Path, Err: err}
		}
		warns = append(warns, w...)
		stores[h] = s
	}
	if err := c.CheckKeystores(stores); err != nil {
		return nil, nil, err
	}
	return stores, warns, nil
}

// CheckKeystores checks opened (or reloaded) keystores against the
// configuration: each host has the keys its mod_auth_token names, and no two
// hosts hold the same bytes under the same name unless
// general.allow_shared_keys is set. One key shared between domains lets a
// token minted for one domain's user log in on the other's.
func (c *Config) CheckKeystores(stores map[string]*keystore.Store) error {
	for _, h := range c.General.Hosts {
		s, ok := stores[h]
		if !ok {
			return &Error{File: c.Path, Host: h, Reason: "no keystore"}
		}
		hs, _ := c.Host(h)
		if err := c.checkRequiredKeys(h, hs, s); err != nil {
			return err
		}
	}
	if c.General.AllowSharedKeys {
		return nil
	}
	hosts := c.General.Hosts
	for i, a := range hosts {
		for _, b := range hosts[i+1:] {
			for _, info := range stores[a].List() {
				if stores[a].SameKey(stores[b], info.Name) {
					return &Error{File: c.Path, Reason: fmt.Sprintf(
						"hosts %q and %q: %s: key %q: the same bytes in both keystores (%s and %s); give each host its own key, or set general.allow_shared_keys = true",
						a, b, ModKeystore, info.Name, where(info), where(keyInfo(stores[b], info.Name)))}
				}
			}
		}
	}
	return nil
}

func keyInfo(s *keystore.Store, name string) keystore.KeyInfo {
	for _, info := range s.List() {
		if info.Name == name {
			return info
		}
	}
	return keystore.KeyInfo{Name: name}
}

// where says where a key comes from, for messages.
func where(info keystore.KeyInfo) string {
	switch {
	case info.File != "":
		return fmt.Sprintf("file %q", info.File)
	case info.Var != "":
		return fmt.Sprintf("env %q", info.Var)
	default:
		return info.Type
	}
}
