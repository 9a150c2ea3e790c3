package server

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/xtokend/xtokend/config"
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

// Limiter holds both per-address limiters of a server. A nil *Limiter allows
// everything.
type Limiter struct {
	conns  *ipBuckets // nil: no limit
	logins *ipBuckets // nil: no limit
	exempt []netip.Prefix
	now    func() time.Time
}

// NewLimiter builds the limiters of opts, which must be valid.
func NewLimiter(opts config.LimitOptions) (*Limiter, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	exempt, _ := opts.ExemptPrefixes()
	l := &Limiter{now: time.Now, exempt: exempt}
	max := opts.MaxTrackedAddresses
	if max == 0 {
		max = config.DefaultMaxTrackedAddresses
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
