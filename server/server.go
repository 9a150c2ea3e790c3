package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/sasl"
)

// Defaults for the Server's tuning fields.
const (
	DefaultNegotiationTimeout = 10 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultQueueSize          = 256
	DefaultMaxStanzaSize      = 65536

	// replayCacheSize bounds the tokens remembered across all hosts. When it
	// is full, logins are refused (temporary-auth-failure) rather than
	// forgetting a token that could then be replayed. A token is held for at
	// most (otp_skew+1) periods (60 s by default), so 1<<20 covers about
	// 17,000 logins a second sustained, far above what one node does; a full
	// cache costs about 45 MB, and memory is only taken as tokens arrive.
	replayCacheSize = sasl.DefaultReplayCacheSize
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Config is what New builds a Server from: the configuration file and what
// the embedding program adds.
type Config struct {
	// File is the configuration; nil means config.Default().
	File *config.Config
	// Logger receives structured logs; nil means slog.Default(). Tokens and
	// keys are never logged.
	Logger *slog.Logger
	// TLSConfig, when set, replaces the certificates from File (tests).
	// MinVersion is raised to TLS 1.2 if it is lower.
	TLSConfig *tls.Config
	// Hooks let the operations code (metrics, rate limits) observe and gate
	// the server. Nil funcs are skipped.
	Hooks Hooks

	// NegotiationTimeout bounds the whole negotiation (STARTTLS, SASL,
	// bind) of a connection; 0 means DefaultNegotiationTimeout.
	NegotiationTimeout time.Duration
	// WriteTimeout bounds every write to a client; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// QueueSize is how many stanzas may wait for a slow client before it is
	// disconnected; 0 means DefaultQueueSize.
	QueueSize int
}

// Server is an XMPP c2s server, built by New.
type Server struct {
	opts   Config
	cfg    *config.Config
	hooks  Hooks // opts.Hooks with the metrics and limits composed in
	hosts  map[string]*host
	replay *sasl.ReplayCache
	node   *cluster.Node // nil without [cluster]
	router router        // where stanzas for other nodes go
	// bindMu orders the registry and the router's view of local sessions,
	// so that a session replaced here is never unbound from the cluster
	// after its successor was bound.
	bindMu sync.Mutex
	// started is closed when New succeeded (the cluster's hooks wait on it).
	started chan struct{}
	tlsConf *tls.Config
	certs   certStore // the certificates from files, per host
	reg     registry
	// negotiators are the goroutines connections negotiate on.
	negotiators negotiatorPool
	// parker holds idle sessions' sockets (nil: they wait in goroutines).
	parker *parker

	ctx    context.Context // canceled when Shutdown gives up waiting
	cancel context.CancelFunc

	mu        sync.Mutex
	closing   atomic.Bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	addr      net.Addr
	wg        sync.WaitGroup

	ops ops        // metrics, limits, admin socket, reload
	db  storeState // rosters, blocking, offline messages

	revoked revocations    // revocations in force (Server.Revoke)
	sm      smTable        // resumable sessions
	fast    fastStore      // FAST tokens (XEP-0484), in RAM
	keyLife keyLifeMetrics // rotation's metrics (reloadKeyConfig)
}

// host is one virtual host's runtime state.
type host struct {
	name     string
	settings config.HostSettings
	keys     atomic.Pointer[hostKeys] // swapped by ReplaceKeys (reload)
	domain   jid.JID                  // name as a JID, checked once (host.userJID)
}

// hostKeys is what a reload replaces together.
type hostKeys struct {
	store    *keystore.Store
	verifier *sasl.Verifier
}

func (h *host) verifier() *sasl.Verifier { return h.keys.Load().verifier }

// New does all of a server's start-up under ctx: with [cluster], it starts
// the node and waits until it joined (or started the cluster alone); it
// opens every host's keystore and builds its verifier, and loads the TLS
// certificates. Errors are one line: a configuration that cannot run (exit
// 2). Nothing is listening yet: Serve accepts connections.
func New(ctx context.Context, opts Config) (*Server, error) {
	s := &Server{opts: opts, cfg: opts.File}
	if s.cfg == nil {
		s.cfg = config.Default()
	}
	// The server's own context outlives New's: it is canceled by Shutdown.
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.listeners = make(map[net.Listener]struct{})
	s.conns = make(map[*conn]struct{})
	s.reg.init()
	s.router = localRouter{}
	s.started = make(chan struct{})
	if err := s.build(ctx); err != nil {
		s.stopCluster() // a node that started must not outlive a failed start
		s.closeStore()
		s.cancel()
		return nil, err
	}
	// Idle sessions park on an epoll set; without one (not Linux, or no
	// descriptor to spare) each waits in a goroutine of its own.
	if p, err := newParker(&s.negotiators); err == nil {
		s.parker = p
	} else {
		s.logger().Warn("idle sessions wait in goroutines", "err", err)
	}
	close(s.started)
	return s, nil
}

func (s *Server) build(ctx context.Context) error {
	cfg := s.cfg
	if len(cfg.General.Hosts) == 0 {
		return errors.New("server: no hosts configured")
	}
	if err := s.startCluster(ctx); err != nil {
		return err
	}
	s.replay = sasl.NewReplayCache(replayCacheSize)
	s.fast = newFASTRAM(newFASTQueue(s.ctx, 1024, func(ctx context.Context, b []byte) []string {
		return s.router.shareFAST(ctx, b)
	}, s.logger()))
	keys, warnings, err := cfg.OpenKeys(s.keySource(nil))
	if err != nil {
		return err
	}
	for _, w := range warnings {
		s.logger().Warn(w.String())
	}
	for _, w := range cfg.Warnings() {
		if s.opts.TLSConfig != nil && strings.HasPrefix(w, "tls: cert") {
			continue // the certificate comes from TLSConfig
		}
		s.logger().Warn(w)
	}
	s.hosts = make(map[string]*host, len(cfg.General.Hosts))
	for _, name := range cfg.General.Hosts {
		settings, _ := cfg.Host(name)
		h := &host{name: name, settings: settings}
		h.domain, _ = jid.New("", name, "") // left empty if not a JID: userJID then checks every time
		h.keys.Store(&hostKeys{store: keys[name].Store, verifier: keys[name].Verifier})
		s.hosts[strings.ToLower(name)] = h
	}
	s.tlsConf, err = s.buildTLS()
	if err != nil {
		return err
	}
	if err := s.initOps(); err != nil {
		return err
	}
	if err := s.openStore(ctx); err != nil {
		return err
	}
	s.keyLife.register(s.ops.metrics)
	s.sm.counts.register(s.ops.metrics)
	s.clusterStarted()
	return nil
}

// keySource is where a host's keys come from besides its files: RAM keys
// from the cluster (or from inForce, the stores a reload replaces), and the
// replay check, the cluster's or this server's cache.
func (s *Server) keySource(inForce func(host string) *keystore.Store) config.KeySource {
	src := config.KeySource{Verifier: s.newVerifier}
	switch {
	case inForce != nil:
		src.RAM = func(host string) keystore.RAMSource {
			store := inForce(host)
			return func(name string, _ int) ([]byte, error) { return store.Key(name) }
		}
	case s.node != nil:
		node := s.node
		src.RAM = func(host string) keystore.RAMSource {
			return func(name string, _ int) ([]byte, error) {
				b, ok := node.RAMKey(host, name)
				if !ok {
					return nil, errors.New("the cluster has no such RAM key (the node is not ready or stopped)")
				}
				return b, nil
			}
		}
	}
	return src
}

// newVerifier builds a host's verifier: with the cluster's replay check in a
// cluster, the server's cache otherwise.
func (s *Server) newVerifier(host string, store *keystore.Store, opts sasl.Options) (v *sasl.Verifier, err error) {
	if s.node != nil {
		v, err = sasl.NewSharedVerifier(host, store, opts, s.node)
	} else {
		v, err = sasl.NewVerifier(host, store, opts, s.replay)
	}
	if err != nil {
		return nil, err
	}
	v.SetHooks(sasl.VerifierHooks{Revoked: s.revoked.tokenRevoked, AcceptedVersion: s.keyLife.acceptedVersion})
	return v, nil
}

func (s *Server) logger() *slog.Logger {
	if s.opts.Logger != nil {
		return s.opts.Logger
	}
	return slog.Default()
}

func (s *Server) negotiationTimeout() time.Duration {
	if s.opts.NegotiationTimeout > 0 {
		return s.opts.NegotiationTimeout
	}
	return DefaultNegotiationTimeout
}

func (s *Server) writeTimeout() time.Duration {
	if s.opts.WriteTimeout > 0 {
		return s.opts.WriteTimeout
	}
	return DefaultWriteTimeout
}

func (s *Server) queueSize() int {
	if s.opts.QueueSize > 0 {
		return s.opts.QueueSize
	}
	return DefaultQueueSize
}

func (s *Server) maxStanzaSize() int64 {
	if n := s.cfg.General.MaxStanzaSize; n > 0 {
		return int64(n)
	}
	return DefaultMaxStanzaSize
}

// lookupHost returns the served host named name, or nil.
func (s *Server) lookupHost(name string) *host {
	return s.hosts[strings.ToLower(name)]
}

// ListenAndServe listens on general.listen and serves until Shutdown, when it
// returns ErrServerClosed.
func (s *Server) ListenAndServe() error {
	if s.closing.Load() {
		return ErrServerClosed
	}
	addr := s.cfg.General.Listen
	if addr == "" {
		addr = config.DefaultListen
	}
	l, err := Listen(context.Background(), addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l until Shutdown (then it returns
// ErrServerClosed) or an accept error. l is closed when Serve returns.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	if s.addr == nil {
		s.addr = l.Addr()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()

	if err := s.startOps(); err != nil {
		return err
	}
	log := s.logger()
	log.Info("listening", "addr", l.Addr().String(), "hosts", s.cfg.General.Hosts)
	var backoff time.Duration
	for {
		raw, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("accept failed, retrying", "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			// Out of file descriptors and similar: back off as net/http does.
			if isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("accept failed, retrying", "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		backoff = 0
		ip := remoteIP(raw)
		if f := s.hooks.AllowConnection; f != nil && !f(ip) {
			s.ops.refused.add(log, "connection limit")
			raw.Close()
			continue
		}
		slot, ok := s.admitConn(raw, ip)
		if !ok {
			continue
		}
		t := newTCPTransport(raw, ip, s.maxStanzaSize())
		t.park.p = s.parker
		c := newConn(s, t)
		c.slot = slot
		if !s.track(c) {
			s.ops.caps.release(slot)
			raw.Close()
			return ErrServerClosed
		}
		s.negotiators.serve(c) // on a pooled goroutine (negotiatorPool)
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func remoteIP(c net.Conn) string {
	addr := c.RemoteAddr()
	if addr == nil {
		return ""
	}
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	h, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return h
}

// track registers c so Shutdown can reach it; false once closing.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.ops.caps.release(c.slot)
	s.wg.Done()
}

// Addr is the address of the first listener Serve was given (nil before).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown stops accepting, sends every session a system-shutdown stream
// error, drops connections still negotiating, and waits for every connection
// goroutine to end. If ctx ends first, the remaining connections are closed
// hard and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	s.negotiators.stop()
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, c := range conns {
		c.shutdown()
	}
	s.smShutdown() // the sessions stream management keeps without a connection
	if err := s.stopOps(ctx); err != nil {
		s.logger().Warn("stopping the admin and metrics listeners", "err", err)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.parker.close()
		s.stopCluster() // after every session had its system-shutdown
		s.closeStore()
		s.logger().Info("shut down")
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.t.Abort()
		}
		s.mu.Unlock()
		<-done
		s.parker.close()
		s.stopCluster()
		s.closeStore()
		return ctx.Err()
	}
}

// Sessions returns the bound full JIDs of every host, sorted (admin API).
func (s *Server) Sessions() map[string][]string {
	out := make(map[string][]string)
	for _, h := range s.cfg.General.Hosts {
		out[h] = []string{}
	}
	for host, jids := range s.reg.list() {
		sort.Strings(jids)
		out[host] = jids
	}
	return out
}
