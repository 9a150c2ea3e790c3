package server

import (
	"errors"

	"xtokend/keystore"
	"xtokend/sasl"
)

// STUB types: the foundation helper owns this file and fills in loading and validation.

// Config is the whole configuration file.
type Config struct {
	General    General      `toml:"general"`
	TLS        TLSOptions   `toml:"tls"`
	Modules    Modules      `toml:"modules"`
	HostConfig []HostConfig `toml:"host_config"`

	// Dir is the folder of the config file; key file paths are relative to it.
	Dir string `toml:"-"`
	// Path is the file the config was read from ("" for the built-in default).
	Path string `toml:"-"`
}

// General is the [general] section.
type General struct {
	Hosts           []string `toml:"hosts"`
	Listen          string   `toml:"listen"`
	AdminSocket     string   `toml:"admin_socket"`
	MetricsListen   string   `toml:"metrics_listen"`
	LogLevel        string   `toml:"log_level"`
	MaxStanzaSize   int      `toml:"max_stanza_size"`
	AllowSharedKeys bool     `toml:"allow_shared_keys"`
}

// TLSOptions is the [tls] section.
type TLSOptions struct {
	Cert            string `toml:"cert"`
	Key             string `toml:"key"`
	RequireStartTLS bool   `toml:"require_starttls"`
}

// Modules holds the module sections; a host_config's Modules replace the global ones per module.
type Modules struct {
	Keystore  *keystore.Options `toml:"mod_keystore"`
	AuthToken *sasl.Options     `toml:"mod_auth_token"`
}

// HostConfig is one [[host_config]] section.
type HostConfig struct {
	Host    string  `toml:"host"`
	Modules Modules `toml:"modules"`
}

// HostSettings is the effective configuration of one virtual host.
type HostSettings struct {
	Host      string
	Keystore  keystore.Options
	AuthToken sasl.Options
}

// LoadConfig reads and validates the file at path. Errors are one line naming
// host, module, key and file where they apply.
func LoadConfig(path string) (*Config, error) { return nil, errors.New("server: not implemented") }

// DefaultConfig is the built-in default of SPEC.md section 4.
func DefaultConfig() *Config { return &Config{} }

// Host returns the effective settings of one host (false if it is not served).
func (c *Config) Host(name string) (HostSettings, bool) { return HostSettings{}, false }

// OpenKeystores builds every host's keystore and checks what spans hosts
// (shared keys, keys mod_auth_token needs). Errors are start-up errors (exit 2).
func (c *Config) OpenKeystores() (map[string]*keystore.Store, error) {
	return nil, errors.New("server: not implemented")
}
