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

// Server is an XMPP c2s server. Its zero value serves DefaultConfig(). Fields
// must not be changed once Serve, ListenAndServe or Mint has been called.
type Server struct {
	// Config is the configuration; nil means DefaultConfig().
	Config *Config
	// Logger receives structured logs; nil means slog.Default(). Tokens and
	// keys are never logged.
	Logger *slog.Logger
	// TLSConfig, when set, replaces the certificate from Config (tests).
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

	initOnce sync.Once
	initErr  error
	cfg      *Config
	hosts    map[string]*host
	replay   *sasl.ReplayCache
	clus     *clusterState // nil without [cluster] (cluster.go)
	tlsConf  *tls.Config
	certs    certStore // the certificates from files, per host (tls_certs.go)
	reg      registry
	// negotiators are the goroutines connections negotiate on.
	negotiators negotiatorPool

	ctx    context.Context // canceled when Shutdown gives up waiting
	cancel context.CancelFunc

	mu        sync.Mutex
	closing   atomic.Bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	addr      net.Addr
	wg        sync.WaitGroup

	ops ops // metrics, limits, admin socket, reload (admin_ops.go)
}

// host is one virtual host's runtime state.
type host struct {
	name     string
	settings HostSettings
	keys     atomic.Pointer[hostKeys] // swapped by ReplaceKeys (reload)
}

// hostKeys is what a reload replaces together.
type hostKeys struct {
	store    *keystore.Store
	verifier *sasl.Verifier
}

func (h *host) verifier() *sasl.Verifier { return h.keys.Load().verifier }

// Init opens the keystores, builds every host's verifier and the TLS
// configuration, once. Serve, ListenAndServe and Mint call it; calling it
// first tells configuration errors (exit 2) from run-time ones.
func (s *Server) Init() error { return s.init() }

// init builds the runtime state once: keystores, verifiers, TLS.
func (s *Server) init() error {
	s.initOnce.Do(func() {
		if s.initErr = s.build(); s.initErr != nil {
			s.stopCluster() // a node that started must not outlive a failed start
		}
	})
	return s.initErr
}

func (s *Server) build() error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.listeners = make(map[net.Listener]struct{})
	s.conns = make(map[*conn]struct{})
	s.reg.init()
	cfg := s.Config
	if cfg == nil {
		cfg = DefaultConfig()
	}
	s.cfg = cfg
	if len(cfg.General.Hosts) == 0 {
		return errors.New("server: no hosts configured")
	}
	if err := s.startCluster(); err != nil {
		return err
	}
	stores, warnings, err := s.openKeystores()
	if err != nil {
		return err
	}
	for _, w := range warnings {
		s.logger().Warn(w.String())
	}
	for _, w := range cfg.Warnings() {
		if s.TLSConfig != nil && strings.HasPrefix(w, "tls: cert") {
			continue // the certificate comes from TLSConfig
		}
		s.logger().Warn(w)
	}
	s.replay = sasl.NewReplayCache(replayCacheSize)
	s.hosts = make(map[string]*host, len(cfg.General.Hosts))
	for _, name := range cfg.General.Hosts {
		settings, ok := cfg.Host(name)
		if !ok {
			return fmt.Errorf("server: host %q: no settings", name)
		}
		store, ok := stores[name]
		if !ok {
			return fmt.Errorf("server: host %q: no keystore", name)
		}
		v, err := s.newVerifier(name, store, settings.AuthToken)
		if err != nil {
			return fmt.Errorf("server: host %q: %w", name, err)
		}
		h := &host{name: name, settings: settings}
		h.keys.Store(&hostKeys{store: store, verifier: v})
		s.hosts[strings.ToLower(name)] = h
	}
	s.tlsConf, err = s.buildTLS()
	if err != nil {
		return err
	}
	if err := s.initOps(); err != nil {
		return err
	}
	s.clusterStarted()
	return nil
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) negotiationTimeout() time.Duration {
	if s.NegotiationTimeout > 0 {
		return s.NegotiationTimeout
	}
	return DefaultNegotiationTimeout
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout > 0 {
		return s.WriteTimeout
	}
	return DefaultWriteTimeout
}

func (s *Server) queueSize() int {
	if s.QueueSize > 0 {
		return s.QueueSize
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
	if err := s.init(); err != nil {
		return err
	}
	if s.closing.Load() {
		return ErrServerClosed
	}
	addr := s.cfg.General.Listen
	if addr == "" {
		addr = DefaultListen
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
	if err := s.init(); err != nil {
		l.Close()
		return err
	}
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
		if f := s.Hooks.AllowConnection; f != nil && !f(ip) {
			s.ops.refused.add(log, "connection limit")
			raw.Close()
			continue
		}
		slot, ok := s.admitConn(raw, ip)
		if !ok {
			continue
		}
		c := newConn(s, raw, ip)
		c.slot = slot
		if !s.track(c) {
			s.ops.caps.release(slot)
			raw.Close()
			return ErrServerClosed
		}
		s.negotiators.serve(c) // on a pooled goroutine (negotiate_pool.go)
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
	if err := s.init(); err != nil && s.conns == nil {
		return err
	}
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
		s.stopCluster() // after every session had its system-shutdown
		s.logger().Info("shut down")
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.raw.Close()
		}
		s.mu.Unlock()
		<-done
		s.stopCluster()
		return ctx.Err()
	}
}

// Sessions returns the bound full JIDs of every host, sorted (admin API).
func (s *Server) Sessions() map[string][]string {
	out := make(map[string][]string)
	if s.init() != nil {
		return out
	}
	for _, h := range s.cfg.General.Hosts {
		out[h] = []string{}
	}
	for host, jids := range s.reg.list() {
		sort.Strings(jids)
		out[host] = jids
	}
	return out
}
