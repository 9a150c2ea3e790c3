package server

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"

	"github.com/xtokend/xtokend/config"
)

// Per-address and per-user limits.
//
// Token buckets guard the c2s listener: one per client address for new
// connections, and for failed logins one per client address and one per
// user (a host and a case-mapped username). Failed logins are charged after
// verification, never before: a valid token always logs in, so an attacker
// behind the same NAT, or one who tries a victim's name, cannot lock anyone
// out. Refusing valid tokens would protect nothing, as a token is an HMAC
// under the host's secret key and cannot be guessed; what the limit stops
// is the cost of a flood of failures (each one logged, answered and
// counted). A failure over either bucket is answered with
// temporary-auth-failure instead of its own condition, summed in the log
// rather than logged one by one, and counted in
// xtokend_rate_limited_total{what="login"}.
//
// The defaults are meant to stop a flood of failures without hurting a
// busy NAT or a carrier-grade gateway: 20 new connections a second with a
// burst of 100, and 5 failed logins a minute with a burst of 10, per address
// and per user. IPv6 clients are keyed by their /64, since anyone holding
// one address usually holds the whole prefix. Loopback is exempt by default:
// the load tools and tests run there, and anyone on the machine is past this
// defence. (Behind a local TCP proxy every client is loopback: list nothing
// in exempt then, and know that the limits see only the proxy's address.)

// Limiter holds the per-address and per-user limiters of a server. A nil
// *Limiter allows everything.
type Limiter struct {
	conns  *buckets[netip.Addr] // nil: no limit
	logins *buckets[netip.Addr] // failed logins per address; nil: no limit
	users  *buckets[uint64]     // failed logins per user (userKey); nil: no limit
	seed   maphash.Seed
	exempt []netip.Prefix
	now    func() time.Time
}

// NewLimiter builds the limiters of opts, which must be valid.
func NewLimiter(opts config.LimitOptions) (*Limiter, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	exempt, _ := opts.ExemptPrefixes()
	l := &Limiter{now: time.Now, exempt: exempt, seed: maphash.MakeSeed()}
	max := opts.MaxTrackedAddresses
	if max == 0 {
		max = config.DefaultMaxTrackedAddresses
	}
	if opts.ConnectionsPerSecond > 0 {
		l.conns = newBuckets[netip.Addr](opts.ConnectionsPerSecond, opts.ConnectionBurst, max)
	}
	if opts.FailedLoginsPerMinute > 0 {
		l.logins = newBuckets[netip.Addr](opts.FailedLoginsPerMinute/60, opts.FailedLoginBurst, max)
		l.users = newBuckets[uint64](opts.FailedLoginsPerMinute/60, opts.FailedLoginBurst, max)
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

// What a failed login is over (LoginFailed).
const (
	notLimited    = ""
	limitedByAddr = "address"
	limitedByUser = "user"
)

// LoginFailed charges a failed login from remoteIP to its address and to
// the user it named (user on host; "" when it named none), and says which
// limit the failure is over: "" for none, "address" or "user". Both are
// charged whatever the answer, so a user's bucket empties under failures
// from many addresses. An exempt address is charged nothing.
func (l *Limiter) LoginFailed(remoteIP, host, user string) string {
	if l == nil || l.logins == nil {
		return notLimited
	}
	k, ok := l.key(remoteIP)
	if !ok {
		return notLimited
	}
	now := l.now()
	over := notLimited
	if !l.logins.take(k, now) {
		over = limitedByAddr
	}
	if user != "" && !l.users.take(l.userKey(host, user), now) && over == notLimited {
		over = limitedByUser
	}
	return over
}

// userKey is the bucket of user on host: a keyed hash, so that a bucket
// costs the same few bytes whatever the username's length, and nobody can
// choose names that share one.
func (l *Limiter) userKey(host, user string) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteString(host)
	h.WriteByte(0)
	h.WriteString(user)
	return h.Sum64()
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

// buckets is a token bucket per key with a bounded number of keys.
type buckets[K comparable] struct {
	rate  float64 // tokens per second
	burst float64
	max   int

	mu        sync.Mutex
	buckets   map[K]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// sweepEvery is how often full buckets (which are no different from a missing
// one) are dropped even when the map is not full.
const sweepEvery = time.Minute

func newBuckets[K comparable](rate float64, burst, max int) *buckets[K] {
	return &buckets[K]{rate: rate, burst: float64(burst), max: max, buckets: make(map[K]*bucket)}
}

// refill brings b up to now.
func (kb *buckets[K]) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(kb.burst, b.tokens+elapsed*kb.rate)
	}
	b.last = now
}

func (kb *buckets[K]) take(key K, now time.Time) bool {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	b, ok := kb.buckets[key]
	if !ok {
		kb.makeRoom(now)
		b = &bucket{tokens: kb.burst, last: now}
		kb.buckets[key] = b
	} else {
		kb.refill(b, now)
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// makeRoom keeps the map under its bound. Full buckets go first; if every
// tracked key (an address, a user) is still being limited, an arbitrary one
// is forgotten. That fails open for the forgotten key (it gets a fresh
// burst) instead of failing closed for every new one, which would let anyone
// with enough source addresses or usernames lock everyone else out.
func (kb *buckets[K]) makeRoom(now time.Time) {
	if len(kb.buckets) < kb.max && now.Sub(kb.lastSweep) < sweepEvery {
		return
	}
	kb.lastSweep = now
	for k, b := range kb.buckets {
		kb.refill(b, now)
		if b.tokens >= kb.burst {
			delete(kb.buckets, k)
		}
	}
	for k := range kb.buckets {
		if len(kb.buckets) < kb.max {
			break
		}
		delete(kb.buckets, k)
	}
}

// len is the number of tracked keys (for tests).
func (kb *buckets[K]) len() int {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	return len(kb.buckets)
}
