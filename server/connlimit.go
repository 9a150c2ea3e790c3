package server

import (
	"github.com/xtokend/xtokend/config"

	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Caps on open c2s connections.
//
// The rate limits bound how fast an address may connect, not how many
// connections it may hold: at the process's descriptor limit, accept fails,
// new logins hang, and /metrics and the admin socket, which need descriptors
// too, stop answering. So the number of open c2s connections is capped in
// total (limits.max_connections, by default the descriptor limit minus a
// reserve for everything else) and per client address
// (limits.max_connections_per_address, exempt addresses not counted). A
// connection over a cap is answered at once with a stream header and a
// stream error (resource-constraint for the total, policy-violation for the
// address) and closed, without reading anything: the cheapest honest answer,
// written before the client's header as RFC 6120 section 4.9.1.2 allows.

// DefaultMaxConnectionsPerAddress is limits.max_connections_per_address when
// the file does not set it.
const DefaultMaxConnectionsPerAddress = config.DefaultMaxConnectionsPerAddress

// fdReserve is how many descriptors the derived total cap leaves for the
// rest of the process: the metrics and admin listeners and their clients,
// key and certificate files read at reload, cluster links, logs.
const fdReserve = 256

// derivedMaxConnections is the total cap when limits.max_connections is 0:
// the descriptor limit (which the Go runtime raised to its hard limit at
// start) minus the reserve, or a quarter of a small limit.
func derivedMaxConnections() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == unix.RLIM_INFINITY || rl.Cur > 1<<22 {
		return 1 << 22
	}
	n := int(rl.Cur)
	if n >= 4*fdReserve {
		return n - fdReserve
	}
	return max(n*3/4, 1)
}

// connCaps counts open c2s connections, in total and per address.
type connCaps struct {
	max, perAddr int // perAddr 0: no per-address cap

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int

	// Returning memory after a flood (memrelease.go).
	peak         int
	releaseArmed bool
	released     atomic.Int64 // releases done (tests, benchmarks)
	log          *slog.Logger
}

// connSlot is what a connection holds of the caps until it ends.
type connSlot struct {
	addr    netip.Addr
	counted bool // addr is counted in byAddr
}

func newConnCaps(opts config.LimitOptions) *connCaps {
	c := &connCaps{max: opts.MaxConnections, perAddr: opts.MaxConnectionsPerAddress, byAddr: make(map[netip.Addr]int)}
	if c.max == 0 {
		c.max = derivedMaxConnections()
	}
	return c
}

// acquire takes a slot for a new connection from the address key (ok false:
// exempt or not an address, not counted per address). It returns the cap
// that refused it, "" when it may proceed.
func (c *connCaps) acquire(key netip.Addr, ok bool) (connSlot, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open >= c.max {
		return connSlot{}, "max_connections"
	}
	counted := ok && c.perAddr > 0
	if counted {
		if c.byAddr[key] >= c.perAddr {
			return connSlot{}, "max_connections_per_address"
		}
		c.byAddr[key]++
	}
	c.open++
	c.noteOpen()
	return connSlot{addr: key, counted: counted}, ""
}

// release gives a connection's slot back.
func (c *connCaps) release(s connSlot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	c.noteOpen()
	if s.counted {
		if n := c.byAddr[s.addr] - 1; n > 0 {
			c.byAddr[s.addr] = n
		} else {
			delete(c.byAddr, s.addr)
		}
	}
}

// Refusals written to a connection over a cap, whole, before closing it.
var (
	refusedTotal   = []byte(refusalBytes(condResourceConstraint, "too many connections"))
	refusedPerAddr = []byte(refusalBytes(condPolicyViolation, "too many connections from this address"))
)

func refusalBytes(cond, text string) string {
	return "<?xml version='1.0'?><stream:stream xmlns='" + nsClient + "' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" +
		string(streamErrorBytes(cond, text))
}

// admitConn checks raw against the caps; false means it was refused,
// answered and closed. The accept loop calls it, so the answer is one write
// to a fresh socket, whose empty send buffer takes it without blocking.
func (s *Server) admitConn(raw net.Conn, ip string) (connSlot, bool) {
	key, ok := s.ops.limiter.key(ip)
	slot, refusal := s.ops.caps.acquire(key, ok)
	if refusal == "" {
		return slot, true
	}
	s.ops.refused.add(s.logger(), refusal)
	s.ops.metrics.OnLimited("connection")
	if refusal == "max_connections" {
		raw.Write(refusedTotal)
	} else {
		raw.Write(refusedPerAddr)
	}
	raw.Close()
	return connSlot{}, false
}

// OpenConnections is the number of c2s connections open now, negotiating or
// bound.
func (s *Server) OpenConnections() int {
	c := s.ops.caps
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}
