package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/sasl"
	"github.com/xtokend/xtokend/storage"
	"github.com/xtokend/xtokend/websocket"
)

// Config is the whole configuration file. Load one with Load or
// Find, or start from Default. Module sections are pointers: in
// a HostConfig, nil means "use the global section".
type Config struct {
	General General      `toml:"general"`
	TLS     TLSOptions   `toml:"tls"`
	Limits  LimitOptions `toml:"limits"`
	// WebSocket is the [websocket] section: XMPP over WebSocket (RFC 7395),
	// off unless listen is set (the built-in config turns it on).
	WebSocket  websocket.Options `toml:"websocket"`
	Modules    Modules           `toml:"modules"`
	HostConfig []HostConfig      `toml:"host_config"`
	// Cluster is the [cluster] section; nil when the file has none, which
	// is what keeps a server on its own.
	Cluster *cluster.Options `toml:"cluster"`
	// Storage is the [storage] section (see StorageOptions); nil is storage
	// off.
	Storage *storage.Options `toml:"storage"`

	// Dir is the folder of the config file; key file paths are relative to it.
	Dir string `toml:"-"`
	// Path is the file the config was read from ("" for the built-in default).
	Path string `toml:"-"`
	// LookupEnv reads the variables of env keys; nil means os.LookupEnv.
	// Tests set it so they need no real environment.
	LookupEnv func(string) (string, bool) `toml:"-"`
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
	// StreamManagement is mod_stream_management.
	StreamManagement *StreamManagementOptions `toml:"mod_stream_management"`
	// FAST is mod_fast.
	FAST *FASTOptions `toml:"mod_fast"`
}

// HostConfig is one [[host_config]] section.
type HostConfig struct {
	Host    string  `toml:"host"`
	Modules Modules `toml:"modules"`
	// TLS, when set, is the certificate STARTTLS shows on this host's
	// streams instead of the [tls] one (like a Prosody VirtualHost's ssl).
	TLS *HostTLSOptions `toml:"tls"`
}

// HostTLSOptions is a [host_config.tls] section: the host's own certificate.
// require_starttls stays global.
type HostTLSOptions struct {
	Cert string `toml:"cert"` // PEM; relative to the config file's folder
	Key  string `toml:"key"`
}

// HostSettings is the effective configuration of one virtual host.
type HostSettings struct {
	Host      string
	Keystore  keystore.Options
	AuthToken sasl.Options
	// StreamManagement is mod_stream_management's options for the host.
	StreamManagement StreamManagementOptions
	// FAST is mod_fast's options for the host.
	FAST FASTOptions
	// TLS is the host's own certificate, nil when it shows the [tls] one.
	TLS *HostTLSOptions
}

// Defaults of the [general] and [tls] sections (SPEC.md section 2).
const (
	DefaultListen = "127.0.0.1:5222"
	// DefaultWebSocketListen is where the built-in config serves XMPP over
	// WebSocket; a config file turns it on with [websocket] listen.
	DefaultWebSocketListen = "127.0.0.1:5280"
	DefaultAdminSocket     = "xtokend.sock"
	DefaultLogLevel        = "info"
	DefaultConfigFile      = "config.toml" // what Find looks for in the current folder
	MinMaxStanzaSize       = 10000         // RFC 6120 section 13.12: a server must take stanzas of 10000 bytes
	MaxMaxStanzaSize       = 64 << 20
	maxConfigFileSize      = 4 << 20
	defaultMaxStanzaSize   = 65536
)

// defaultGeneral and defaultTLS are what a file that leaves an option out gets.
func defaultGeneral() General {
	return General{
		Listen:        DefaultListen,
		AdminSocket:   DefaultAdminSocket,
		LogLevel:      DefaultLogLevel,
		MaxStanzaSize: defaultMaxStanzaSize,
	}
}

func defaultTLS() TLSOptions { return TLSOptions{RequireStartTLS: true} }

// Default is the built-in default of SPEC.md section 4: host
// "localhost" with RAM keys, every option at its default but
// mod_auth_token's plain (on), a self-signed certificate, listening on
// loopback only, key paths and the admin socket relative to the current folder.
func Default() *Config {
	dir, err := os.Getwd()
	if err != nil {
		dir = "."
	}
	g := defaultGeneral()
	g.Hosts = []string{"localhost"}
	ks, at := keystore.DefaultOptions(), sasl.DefaultOptions()
	// Stock clients (no X-TOKEN) log in to the quick-start server with a
	// token as their PLAIN password; it listens on loopback only.
	at.Plain = true
	ws := websocket.DefaultOptions()
	ws.Listen = DefaultWebSocketListen
	st := storage.DefaultOptions()
	return &Config{
		Storage:   &st,
		General:   g,
		TLS:       defaultTLS(),
		Limits:    DefaultLimitOptions(),
		WebSocket: ws,
		Modules:   Modules{Keystore: &ks, AuthToken: &at},
		Dir:       dir,
	}
}

// Load reads and validates the file at path. Errors are one line naming
// host, module, key and file where they apply.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	data, err := readConfigFile(abs)
	if err != nil {
		return nil, &Error{File: abs, Err: err}
	}
	return Parse(data, abs)
}

func readConfigFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, shortPathError(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if fi.Size() > maxConfigFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxConfigFileSize)
	}
	b, err := os.ReadFile(path)
	return b, shortPathError(err)
}

// shortPathError drops the path from an *fs.PathError: the error already names the file.
func shortPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		op := pe.Op
		if op == "stat" {
			op = "open"
		}
		return fmt.Errorf("%s: %w", op, pe.Err)
	}
	return err
}

// Find is what the commands do with their -config flag: path when it
// is set; else ./config.toml when there is one; else Default().
func Find(path string) (*Config, error) {
	if path != "" {
		return Load(path)
	}
	if _, err := os.Stat(DefaultConfigFile); err == nil {
		return Load(DefaultConfigFile)
	}
	c := Default()
	return c, c.Validate()
}

// Host returns the effective settings of one host (false if it is not served):
// the host's own module sections where it has them, else the global ones.
func (c *Config) Host(name string) (HostSettings, bool) {
	served := false
	for _, h := range c.General.Hosts {
		if h == name {
			served = true
			break
		}
	}
	if !served {
		return HostSettings{}, false
	}
	hs := HostSettings{Host: name, Keystore: keystore.DefaultOptions(), AuthToken: sasl.DefaultOptions(), StreamManagement: DefaultStreamManagementOptions(), FAST: DefaultFASTOptions()}
	if c.Modules.StreamManagement != nil {
		hs.StreamManagement = *c.Modules.StreamManagement
	}
	if c.Modules.FAST != nil {
		hs.FAST = *c.Modules.FAST
	}
	if c.Modules.Keystore != nil {
		hs.Keystore = *c.Modules.Keystore
	}
	if c.Modules.AuthToken != nil {
		hs.AuthToken = *c.Modules.AuthToken
	}
	for _, hc := range c.HostConfig {
		if hc.Host != name {
			continue
		}
		if hc.Modules.Keystore != nil {
			hs.Keystore = *hc.Modules.Keystore
		}
		if hc.Modules.AuthToken != nil {
			hs.AuthToken = *hc.Modules.AuthToken
		}
		if hc.Modules.StreamManagement != nil {
			hs.StreamManagement = *hc.Modules.StreamManagement
		}
		if hc.Modules.FAST != nil {
			hs.FAST = *hc.Modules.FAST
		}
		if hc.TLS != nil {
			t := *hc.TLS
			hs.TLS = &t
		}
	}
	hs.Keystore.Keys = append([]keystore.KeySpec(nil), hs.Keystore.Keys...)
	return hs, true
}

// Resolve makes a path from the config file (a key file, the certificate,
// the admin socket) absolute, relative to the config file's folder.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// AdminSocketPath is general.admin_socket made absolute ("" if disabled).
func (c *Config) AdminSocketPath() string { return c.Resolve(c.General.AdminSocket) }

// SlogLevel is general.log_level as a slog.Level.
func (g General) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(g.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Warnings are what the configuration accepts but an operator should hear of
// at start: a self-signed certificate, SASL on plaintext, legacy nonces,
// shared keys allowed. Key file modes are checked when the keystores open.
func (c *Config) Warnings() []string {
	var w []string
	if c.TLS.Cert == "" && c.TLS.Key == "" {
		var selfSigned []string
		for _, h := range c.General.Hosts {
			if hs, _ := c.Host(h); hs.TLS == nil {
				selfSigned = append(selfSigned, h)
			}
		}
		switch {
		case len(selfSigned) == len(c.General.Hosts):
			w = append(w, "tls: cert is empty: a self-signed certificate is shown (xtokend cert prints its fingerprint); clients will not trust it unless told to")
		case len(selfSigned) > 0:
			w = append(w, fmt.Sprintf("tls: cert is empty: %s, without a [host_config.tls] of their own, show a self-signed certificate (xtokend cert prints its fingerprint); clients will not trust it unless told to", quoteList(selfSigned)))
		}
	}
	if !c.TLS.RequireStartTLS {
		w = append(w, "tls: require_starttls = false: SASL is offered on plaintext; use it on loopback only")
	}
	w = append(w, c.clusterWarnings()...)
	w = append(w, c.storageWarnings()...)
	if c.General.AllowSharedKeys {
		w = append(w, "general: allow_shared_keys = true: hosts may share keys, so a token for one host's user may log in on another's")
	}
	for _, h := range c.General.Hosts {
		hs, _ := c.Host(h)
		if msg := hs.AuthToken.LegacyNonceWarning(); msg != "" {
			w = append(w, fmt.Sprintf("host %q: %s", h, msg))
		}
	}
	return w
}

// Error is a configuration error: one line naming the file, the host,
// the module and the key involved, e.g.
//
//	config: "/etc/xtokend/config.toml": host "first.com": mod_auth_token: seed_key "otp_seed": no such key in the host's mod_keystore
type Error struct {
	File   string // the config file ("" for the built-in default)
	Host   string
	Module string
	Key    string // a keystore key's name, or an option's
	Reason string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.File == "" {
		b.WriteString("built-in")
	} else {
		fmt.Fprintf(&b, "%q", e.File)
	}
	if e.Host != "" {
		fmt.Fprintf(&b, ": host %q", e.Host)
	}
	if e.Module != "" {
		b.WriteString(": " + e.Module)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %q", e.Key)
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": " + oneLine(e.Err.Error()))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
