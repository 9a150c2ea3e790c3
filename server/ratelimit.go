package server

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/xtokend/xtokend/cluster"
)

// Per-IP limits.
//
// Two token buckets per client address guard the c2s listener: one for new
// connections and one for login attempts. The login bucket is charged when an
// attempt starts and refunded when it succeeds, so what it really counts is
// failed logins, and a burst of parallel attempts cannot outrun it (a plain
// "count failures afterwards" check would let N connections try at once).
//
// The defaults are meant to stop password-style guessing without hurting a
// busy NAT or a carrier-grade gateway: 20 new connections a second with a
// burst of 100, and 5 failed logins a minute with a burst of 10, per address.
// IPv6 clients are keyed by their /64, since anyone holding one address
// usually holds the whole prefix. Loopback is exempt by default: the load
// tools and tests run there, and anyone on the machine is past this defence.
// (Behind a local TCP proxy every client is loopback: list nothing in exempt
// then, and know that the limits see only the proxy's address.)

// LimitOptions is the [limits] section.
//
//	[limits]
//	connections_per_second = 20.0  # new c2s connections per client address; 0 = no limit
//	connection_burst = 100
//	failed_logins_per_minute = 5.0 # failed SASL attempts per client address; 0 = no limit
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

	// Caps on open c2s connections (connlimit.go). MaxConnections 0 means
	// the descriptor limit minus a reserve; MaxConnectionsPerAddress 0
	// means no cap per address (exempt addresses are never capped).
	MaxConnections           int `toml:"max_connections"`
	MaxConnectionsPerAddress int `toml:"max_connections_per_address"`
	// StanzaTimeout bounds the time a stanza that has started may take to
	// arrive whole; 0 means DefaultStanzaTimeout.
	StanzaTimeout cluster.Duration `toml:"stanza_timeout"`
}

// defaultMaxTracked is the bound on tracked addresses when none is set.
const defaultMaxTracked = 100000

// DefaultLimitOptions are the limits of a config without a [limits] section.
func DefaultLimitOptions() LimitOptions {
	return LimitOptions{
		ConnectionsPerSecond:  20,
		ConnectionBurst:       100,
		FailedLoginsPerMinute: 5,
		FailedLoginBurst:      10,
		MaxTrackedAddresses:   defaultMaxTracked,
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
		return fmt.Errorf("limits.max_tracked_addresses = %d: must be 1 or more (0: the default, %d)", o.MaxTrackedAddresses, defaultMaxTracked)
	}
	_, err := parseExempt(o.Exempt)
	return err
}

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

// Limiter holds both per-address limiters of a server. A nil *Limiter allows
// everything.
type Limiter struct {
	conns  *ipBuckets // nil: no limit
	logins *ipBuckets // nil: no limit
	exempt []netip.Prefix
	now    func() time.Time
}

// NewLimiter builds the limiters of opts, which must be valid.
func NewLimiter(opts LimitOptions) (*Limiter, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	exempt, _ := parseExempt(opts.Exempt)
	l := &Limiter{now: time.Now, exempt: exempt}
	max := opts.MaxTrackedAddresses
	if max == 0 {
		max = defaultMaxTracked
	}
	if opts.ConnectionsPerSecond > 0 {
		l.conns = newIPBuckets(opts.ConnectionsPerSecond, opts.ConnectionBurst, max)
	}
	if opts.FailedLoginsPerMinute > 0 {
		l.logins = newIPBuckets(opts.FailedLoginsPerMinute/60, opts.FailedLoginBurst, max)
	}
	return l, nil
}

// key is the bucket of remote; false when remote is exempt or is not an IP
// address (then it is not limited: a limiter never refuses for want of
// parsing).
func (l *Limiter) key(remote string) (netip.Addr, bool) {
	addr, ok := parseRemote(remote)
	if !ok {
		return netip.Addr{}, false
	}
	for _, p := range l.exempt {
		if p.Contains(addr) {
			return netip.Addr{}, false
		}
	}
	return limitKey(addr), true
}

// AllowConnection reports whether a new connection from remoteIP may proceed,
// and charges it.
func (l *Limiter) AllowConnection(remoteIP string) bool {
	if l == nil || l.conns == nil {
		return true
	}
	k, ok := l.key(remoteIP)
	return !ok || l.conns.take(k, l.now())
}

// AllowLogin reports whether a login attempt from remoteIP may proceed, and
// charges it as a failure until LoginSucceeded refunds it.
func (l *Limiter) AllowLogin(remoteIP string) bool {
	if l == nil || l.logins == nil {
		return true
	}
	k, ok := l.key(remoteIP)
	return !ok || l.logins.take(k, l.now())
}

// LoginSucceeded refunds the charge of an attempt AllowLogin allowed.
func (l *Limiter) LoginSucceeded(remoteIP string) {
	if l == nil || l.logins == nil {
		return
	}
	if k, ok := l.key(remoteIP); ok {
		l.logins.refund(k, l.now())
	}
}

// limitKey is the bucket of a client address: the address itself for IPv4,
// the first address of its /64 for IPv6.
func limitKey(addr netip.Addr) netip.Addr {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.Addr()
	}
	return addr
}

// parseRemote reads "ip" or "ip:port" as an address without zone or
// IPv4-in-IPv6 mapping.
func parseRemote(remote string) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(remote)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(remote)
		if err2 != nil {
			return netip.Addr{}, false
		}
		addr = ap.Addr()
	}
	return addr.Unmap().WithZone(""), true
}

// ipBuckets is a token bucket per key with a bounded number of keys.
type ipBuckets struct {
	rate  float64 // tokens per second
	burst float64
	max   int

	mu        sync.Mutex
	buckets   map[netip.Addr]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// sweepEvery is how often full buckets (which are no different from a missing
// one) are dropped even when the map is not full.
const sweepEvery = time.Minute

func newIPBuckets(rate float64, burst, max int) *ipBuckets {
	return &ipBuckets{rate: rate, burst: float64(burst), max: max, buckets: make(map[netip.Addr]*bucket)}
}

// refill brings b up to now.
func (ib *ipBuckets) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(ib.burst, b.tokens+elapsed*ib.rate)
	}
	b.last = now
}

func (ib *ipBuckets) take(key netip.Addr, now time.Time) bool {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	b, ok := ib.buckets[key]
	if !ok {
		ib.makeRoom(now)
		b = &bucket{tokens: ib.burst, last: now}
		ib.buckets[key] = b
	} else {
		ib.refill(b, now)
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (ib *ipBuckets) refund(key netip.Addr, now time.Time) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if b, ok := ib.buckets[key]; ok {
		ib.refill(b, now)
		b.tokens = min(ib.burst, b.tokens+1)
	}
}

// makeRoom keeps the map under its bound. Full buckets go first; if every
// tracked address is still being limited, an arbitrary one is forgotten. That
// fails open for the forgotten address (it gets a fresh burst) instead of
// failing closed for every new address, which would let anyone with enough
// source addresses lock everyone else out.
func (ib *ipBuckets) makeRoom(now time.Time) {
	if len(ib.buckets) < ib.max && now.Sub(ib.lastSweep) < sweepEvery {
		return
	}
	ib.lastSweep = now
	for k, b := range ib.buckets {
		ib.refill(b, now)
		if b.tokens >= ib.burst {
			delete(ib.buckets, k)
		}
	}
	for k := range ib.buckets {
		if len(ib.buckets) < ib.max {
			break
		}
		delete(ib.buckets, k)
	}
}

// len is the number of tracked keys (for tests).
func (ib *ipBuckets) len() int {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return len(ib.buckets)
}

// limitOptions are the limits c asks for: the [limits] section, on its
// defaults when the file has none (a Config built in code without Limits
// limits nothing).
func limitOptions(c *Config) LimitOptions { return c.Limits }
