package config

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/xtokend/xtokend/cluster"
)

// LimitOptions is the [limits] section.
//
//	[limits]
//	connections_per_second = 20.0  # new c2s connections per client address; 0 = no limit
//	connection_burst = 100
//	failed_logins_per_minute = 5.0 # failed SASL attempts per client address and per user; 0 = no limit
//	failed_login_burst = 10
//	max_tracked_addresses = 100000 # bound on the memory the limiters use
//	exempt = ["127.0.0.0/8", "::1/128"] # addresses never limited
//
// The zero LimitOptions (a Config built in code) limits nothing.
type LimitOptions struct {
	ConnectionsPerSecond  float64  `toml:"connections_per_second"`
	ConnectionBurst       int      `toml:"connection_burst"`
	FailedLoginsPerMinute float64  `toml:"failed_logins_per_minute"`
	FailedLoginBurst      int      `toml:"failed_login_burst"`
	MaxTrackedAddresses   int      `toml:"max_tracked_addresses"` // 0 means 100000
	Exempt                []string `toml:"exempt"`                // CIDR prefixes or addresses

	// Caps on open c2s connections. MaxConnections 0 means the descriptor
	// limit minus a reserve; MaxConnectionsPerAddress 0 means no cap per
	// address (exempt addresses are never capped).
	MaxConnections           int `toml:"max_connections"`
	MaxConnectionsPerAddress int `toml:"max_connections_per_address"`
	// StanzaTimeout bounds the time a stanza that has started may take to
	// arrive whole; 0 means DefaultStanzaTimeout.
	StanzaTimeout cluster.Duration `toml:"stanza_timeout"`
}

// DefaultMaxConnectionsPerAddress is limits.max_connections_per_address when
// the section does not set it: an office or carrier NAT puts hundreds of
// users behind one address, and 1,000 keeps one address to a small share of
// its 65,536 ports.
const DefaultMaxConnectionsPerAddress = 1000

// DefaultStanzaTimeout is limits.stanza_timeout when it is not set.
const DefaultStanzaTimeout = 30 * time.Second

// DefaultMaxTrackedAddresses is the bound on tracked addresses when none is set.
const DefaultMaxTrackedAddresses = 100000

// DefaultLimitOptions are the limits of a config without a [limits] section.
func DefaultLimitOptions() LimitOptions {
	return LimitOptions{
		ConnectionsPerSecond:  20,
		ConnectionBurst:       100,
		FailedLoginsPerMinute: 5,
		FailedLoginBurst:      10,
		MaxTrackedAddresses:   DefaultMaxTrackedAddresses,
		Exempt:                []string{"127.0.0.0/8", "::1/128"},

		MaxConnectionsPerAddress: DefaultMaxConnectionsPerAddress,
	}
}

// Validate reports the first option that cannot work, naming it as it is
// spelled in the config file ("limits.connection_burst = 0: ...").
func (o LimitOptions) Validate() error {
	switch {
	case o.ConnectionsPerSecond < 0:
		return fmt.Errorf("limits.connections_per_second = %v: must be 0 (no limit) or more", o.ConnectionsPerSecond)
	case o.ConnectionsPerSecond > 0 && o.ConnectionBurst < 1:
		return fmt.Errorf("limits.connection_burst = %d: must be 1 or more", o.ConnectionBurst)
	case o.FailedLoginsPerMinute < 0:
		return fmt.Errorf("limits.failed_logins_per_minute = %v: must be 0 (no limit) or more", o.FailedLoginsPerMinute)
	case o.FailedLoginsPerMinute > 0 && o.FailedLoginBurst < 1:
		return fmt.Errorf("limits.failed_login_burst = %d: must be 1 or more", o.FailedLoginBurst)
	case o.MaxConnections < 0:
		return fmt.Errorf("limits.max_connections = %d: must be 0 (the descriptor limit minus a reserve) or more", o.MaxConnections)
	case o.MaxConnectionsPerAddress < 0:
		return fmt.Errorf("limits.max_connections_per_address = %d: must be 0 (no limit) or more", o.MaxConnectionsPerAddress)
	case o.StanzaTimeout.Duration < 0:
		return fmt.Errorf("limits.stanza_timeout = %v: must be 0 (the default, %v) or more", o.StanzaTimeout.Duration, DefaultStanzaTimeout)
	case o.MaxTrackedAddresses < 0:
		return fmt.Errorf("limits.max_tracked_addresses = %d: must be 1 or more (0: the default, %d)", o.MaxTrackedAddresses, DefaultMaxTrackedAddresses)
	}
	_, err := o.ExemptPrefixes()
	return err
}

// ExemptPrefixes is the exempt list read: prefixes ("10.0.0.0/8") or single
// addresses ("192.0.2.1").
func (o LimitOptions) ExemptPrefixes() ([]netip.Prefix, error) { return parseExempt(o.Exempt) }

// parseExempt reads the exempt list: prefixes ("10.0.0.0/8") or single
// addresses ("192.0.2.1").
func parseExempt(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, err2 := netip.ParseAddr(s)
			if err2 != nil {
				return nil, fmt.Errorf("limits.exempt: %q is neither an address nor a prefix like 10.0.0.0/8", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
