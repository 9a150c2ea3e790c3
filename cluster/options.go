package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/memberlist"
)

// Section is the name errors give the configuration section.
const Section = "cluster"

// Defaults of the [cluster] section.
const (
	DefaultBind        = "0.0.0.0:7946"
	DefaultJoinTimeout = 10 * time.Second
	DefaultReplayMax   = 1_000_000
)

// Options are the [cluster] section. The section being present is what turns
// the cluster on; the server keeps a *Options that is nil when it is absent.
//
//	[cluster]
//	node_name   = "xmpp1"                       # default: the host name
//	bind        = "0.0.0.0:7946"                # gossip, TCP and UDP
//	advertise   = "10.0.0.1:7946"               # optional: what peers dial
//	join        = ["10.0.0.2:7946", "10.0.0.3:7946"]
//	secret_file = "priv/cluster_secret"         # xtokend genkey -bytes 32 -encoding base64
//	link_listen = "0.0.0.0:7947"                # stanza and replay links, TLS
//	join_timeout = "10s"
type Options struct {
	NodeName   string   `toml:"node_name"`
	Bind       string   `toml:"bind"`
	Advertise  string   `toml:"advertise"`
	Join       []string `toml:"join"`
	SecretFile string   `toml:"secret_file"`
	// LinkListen is where this node accepts links from its peers. Default:
	// bind's host with bind's port + 1 (port 0 stays 0).
	LinkListen string `toml:"link_listen"`
	// LinkAdvertise is what peers dial to reach LinkListen. Default: the
	// node's gossip address with LinkListen's port.
	LinkAdvertise string `toml:"link_advertise"`
	// JoinTimeout is how long a node with seeds tries to reach one before it
	// starts a cluster of its own (and keeps looking for the seeds).
	JoinTimeout Duration `toml:"join_timeout"`
	// ReplayMax bounds the tokens this node remembers as a replay owner; when
	// full it refuses logins rather than forget.
	ReplayMax int `toml:"replay_max"`

	// tune lets tests shorten memberlist's timers, seekEvery the retry of
	// seeds that are not members.
	tune      func(*memberlist.Config)
	seekEvery time.Duration
}

// Duration is a time.Duration written in TOML as a string ("10s").
type Duration struct{ time.Duration }

// UnmarshalText reads "10s", "1m30s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (%q, say \"10s\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as time.Duration prints it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// WithDefaults returns the options with every empty field given its default.
// It reads the host name for an empty node_name.
func (o Options) WithDefaults() Options {
	if o.NodeName == "" {
		if h, err := os.Hostname(); err == nil {
			o.NodeName = h
		}
	}
	if o.Bind == "" {
		o.Bind = DefaultBind
	}
	if o.LinkListen == "" {
		if host, port, err := net.SplitHostPort(o.Bind); err == nil {
			if p, err := strconv.Atoi(port); err == nil && p > 0 && p < 65535 {
				p++
				port = strconv.Itoa(p)
			}
			o.LinkListen = net.JoinHostPort(host, port)
		}
	}
	if o.JoinTimeout.Duration == 0 {
		o.JoinTimeout.Duration = DefaultJoinTimeout
	}
	if o.ReplayMax == 0 {
		o.ReplayMax = DefaultReplayMax
	}
	return o
}

// WithDir returns the options with a relative secret_file taken from dir,
// the folder of the configuration file.
func (o Options) WithDir(dir string) Options {
	if o.SecretFile != "" && !filepath.IsAbs(o.SecretFile) && dir != "" {
		o.SecretFile = filepath.Join(dir, o.SecretFile)
	}
	return o
}

// Validate checks the options without reading the secret file or binding
// anything. Call it on WithDefaults' result. The error is one line.
func (o Options) Validate() error {
	if o.NodeName == "" {
		return optErr("node_name is empty (and the host name is unknown)")
	}
	if len(o.NodeName) > 128 {
		return optErr("node_name is longer than 128 bytes")
	}
	for _, r := range o.NodeName {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return optErr(fmt.Sprintf("node_name %q holds a space or control character", o.NodeName))
		}
	}
	if err := checkAddr("bind", o.Bind, true); err != nil {
		return err
	}
	if o.Advertise != "" {
		if err := checkAddr("advertise", o.Advertise, false); err != nil {
			return err
		}
		if host, _, _ := net.SplitHostPort(o.Advertise); net.ParseIP(host) == nil {
			return optErr(fmt.Sprintf("advertise %q: give an IP address, not a name", o.Advertise))
		}
	}
	for i, j := range o.Join {
		if err := checkAddr(fmt.Sprintf("join[%d]", i), j, false); err != nil {
			return err
		}
	}
	if o.SecretFile == "" {
		return optErr("secret_file is required (make one with: xtokend genkey -bytes 32 -encoding base64 > cluster_secret)")
	}
	if err := checkAddr("link_listen", o.LinkListen, true); err != nil {
		return err
	}
	if o.LinkAdvertise != "" {
		if err := checkAddr("link_advertise", o.LinkAdvertise, false); err != nil {
			return err
		}
	}
	if o.JoinTimeout.Duration < 0 {
		return optErr(fmt.Sprintf("join_timeout %s is negative", o.JoinTimeout.Duration))
	}
	if o.ReplayMax < 0 {
		return optErr(fmt.Sprintf("replay_max %d is negative", o.ReplayMax))
	}
	return nil
}

func optErr(reason string) error { return fmt.Errorf("%s: %s", Section, reason) }

// checkAddr checks a host:port. A listening address may have an empty host
// (every interface) and port 0 (any free port); an address to dial may not.
func checkAddr(field, addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return optErr(fmt.Sprintf("%s %q is not host:port", field, addr))
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return optErr(fmt.Sprintf("%s %q: port %q is not a number from 0 to 65535", field, addr, port))
	}
	if !listen {
		if host == "" || strings.TrimSpace(host) != host {
			return optErr(fmt.Sprintf("%s %q has no host", field, addr))
		}
		if p == 0 {
			return optErr(fmt.Sprintf("%s %q: port 0 cannot be dialled", field, addr))
		}
	} else if host != "" && net.ParseIP(host) == nil {
		return optErr(fmt.Sprintf("%s %q: listen on an IP address, not a name", field, addr))
	}
	return nil
}
