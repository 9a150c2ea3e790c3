package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/sasl"
	"github.com/xtokend/xtokend/storage"
	"github.com/xtokend/xtokend/websocket"
)

// Module names, as in [modules.<name>] and errors.
const (
	ModKeystore  = keystore.Module // "mod_keystore"
	ModAuthToken = "mod_auth_token"
)

// rawConfig is the file as first decoded: module sections are kept as
// primitives, so each can be decoded later onto fresh defaults (a host's
// section replaces the global one; it is not merged into it).
type rawConfig struct {
	General    General                   `toml:"general"`
	TLS        TLSOptions                `toml:"tls"`
	Limits     LimitOptions              `toml:"limits"`
	WebSocket  websocket.Options         `toml:"websocket"`
	Modules    map[string]toml.Primitive `toml:"modules"`
	HostConfig []rawHostConfig           `toml:"host_config"`
	Cluster    *cluster.Options          `toml:"cluster"`
	Storage    *storage.Options          `toml:"storage"`
}

type rawHostConfig struct {
	Host    string                    `toml:"host"`
	Modules map[string]toml.Primitive `toml:"modules"`
	TLS     *HostTLSOptions           `toml:"tls"`
}

// Parse parses and validates a configuration file's contents. path
// names the file in errors, and its folder is the one relative paths are
// taken from. It reads no key file; OpenKeystores does.
//
// An empty path means the data came from no file: errors say "built-in
// config" and relative paths are taken from the current folder.
func Parse(data []byte, path string) (*Config, error) {
	if abs, err := filepath.Abs(path); err == nil && path != "" {
		path = abs
	}
	c, err := decodeConfig(data, path)
	if err != nil {
		return nil, err
	}
	if path == "" {
		c.Dir = Default().Dir
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeConfig(data []byte, path string) (*Config, error) {
	fail := func(format string, args ...any) error {
		return &Error{File: path, Reason: fmt.Sprintf(format, args...)}
	}
	raw := rawConfig{General: defaultGeneral(), TLS: defaultTLS(), Limits: DefaultLimitOptions(), WebSocket: websocket.DefaultOptions()}
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	c := &Config{General: raw.General, TLS: raw.TLS, Limits: raw.Limits, WebSocket: raw.WebSocket, Cluster: raw.Cluster, Storage: raw.Storage, Dir: filepath.Dir(path), Path: path}
	if c.Storage == nil && c.Cluster == nil {
		st := storage.DefaultOptions() // SQLite beside the file
		c.Storage = &st
	}

	mods, err := decodeModules(&md, raw.Modules, "modules")
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	c.Modules = mods
	if c.Modules.Keystore == nil {
		ks := keystore.DefaultOptions()
		c.Modules.Keystore = &ks
	}
	if c.Modules.AuthToken == nil {
		at := sasl.DefaultOptions()
		c.Modules.AuthToken = &at
	}
	for i, rh := range raw.HostConfig {
		where := fmt.Sprintf("host_config[%d]", i)
		if rh.Host != "" {
			where = fmt.Sprintf("host_config[%d] (host %q)", i, rh.Host)
		}
		mods, err := decodeModules(&md, rh.Modules, where+": modules")
		if err != nil {
			return nil, &Error{File: path, Err: err}
		}
		c.HostConfig = append(c.HostConfig, HostConfig{Host: rh.Host, Modules: mods, TLS: rh.TLS})
	}

	// Last, so the module sections decoded above count as known.
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		msg := unknownOption(data, undecoded[0])
		if n := len(undecoded) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
		return nil, fail("%s", msg)
	}
	return c, nil
}

// decodeModules decodes each module section onto that module's defaults.
// A section's keys list, when given, replaces the default list whole.
func decodeModules(md *toml.MetaData, sections map[string]toml.Primitive, where string) (Modules, error) {
	var m Modules
	names := make([]string, 0, len(sections))
	for name := range sections {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		prim := sections[name]
		switch name {
		case ModKeystore:
			opts := keystore.Options{RAMKeySize: keystore.DefaultOptions().RAMKeySize}
			if err := md.PrimitiveDecode(prim, &opts); err != nil {
				return m, fmt.Errorf("%s.%s: %w", where, name, err)
			}
			if opts.Keys == nil {
				opts.Keys = keystore.DefaultOptions().Keys
			}
			m.Keystore = &opts
		case ModAuthToken:
			opts := sasl.DefaultOptions()
			if err := md.PrimitiveDecode(prim, &opts); err != nil {
				return m, fmt.Errorf("%s.%s: %w", where, name, err)
			}
			m.AuthToken = &opts
		case ModStreamManagement:
			opts := DefaultStreamManagementOptions()
			if err := md.PrimitiveDecode(prim, &opts); err != nil {
				return m, fmt.Errorf("%s.%s: %w", where, name, err)
			}
			m.StreamManagement = &opts
		case ModFAST:
			opts := DefaultFASTOptions()
			if err := md.PrimitiveDecode(prim, &opts); err != nil {
				return m, fmt.Errorf("%s.%s: %w", where, name, err)
			}
			m.FAST = &opts
		default:
			return m, fmt.Errorf("%s: unknown module %q (%s, %s, %s, %s)", where, name, ModKeystore, ModAuthToken, ModStreamManagement, ModFAST)
		}
	}
	return m, nil
}

// quoteList is for messages: "a", "b".
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
