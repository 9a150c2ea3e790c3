package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/xtokend/xtokend/server/adminclient"
)

// ops is the operations side of a Server: metrics, per-address limits, the
// admin socket, the metrics listener and what a reload swaps. It is built
// with the server's runtime state (init), its listeners start with the first
// Serve and stop in Shutdown.
type ops struct {
	metrics *Metrics
	limiter *Limiter
	refused refusalLog // refusals, summed up per interval
	caps    *connCaps  // caps on open connections

	reloadMu sync.Mutex // one Reload at a time

	startOnce  sync.Once
	startErr   error
	mu         sync.Mutex // guards admin and metricsSrv against Shutdown
	admin      *adminServer
	metricsSrv *metricsServer
	ws         *wsServer // the [websocket] listener
}

// initOps builds the metrics and limiters and hooks them into s.Hooks (the
// hooks set by the Server's user still run, first), and makes the configured
// certificates reloadable. It runs once, at the end of init.
func (s *Server) initOps() error {
	o := &s.ops
	o.metrics = NewMetrics(s.cfg.General.Hosts, s.replay.Len)
	lim, err := NewLimiter(s.cfg.Limits)
	if err != nil {
		return err
	}
	o.limiter = lim
	o.caps = newConnCaps(s.cfg.Limits)
	o.caps.log = s.logger()
	s.hooks = o.hooks(s.opts.Hooks)
	if path := s.cfg.AdminSocketPath(); path != "" {
		if err := checkAdminSocketDir(path); err != nil {
			return err // at start-up: a configuration error
		}
	}

	return s.initCerts(s.tlsConf)
}

// hooks composes the user's hooks with the metrics and the limiter. It
// starts from a copy of the user's, so a hook it does not know of passes
// through unchanged.
func (o *ops) hooks(user Hooks) Hooks {
	m, lim := o.metrics, o.limiter
	h := user
	h.OnLogin = func(host, condition string, ok bool) {
		if user.OnLogin != nil {
			user.OnLogin(host, condition, ok)
		}
		m.OnLogin(host, condition, ok)
	}
	h.OnStanza = func(kind string) {
		if user.OnStanza != nil {
			user.OnStanza(kind)
		}
		m.OnStanza(kind)
	}
	h.AllowConnection = func(ip string) bool {
		if user.AllowConnection != nil && !user.AllowConnection(ip) {
			return false
		}
		if !lim.AllowConnection(ip) {
			m.OnLimited("connection")
			return false
		}
		return true
	}
	// AllowLogin stays the user's alone: the failed-login limit is asked
	// after verification (conn.saslConfig), never before.
	return h
}

// startOps starts the admin socket and the metrics listener when configured.
// It runs once, from the first Serve; the error is every Serve's.
func (s *Server) startOps() error {
	o := &s.ops
	o.startOnce.Do(func() {
		log := s.logger()
		o.mu.Lock()
		defer o.mu.Unlock()
		if s.closing.Load() {
			o.startErr = ErrServerClosed
			return
		}
		if addr := s.cfg.General.MetricsListen; addr != "" {
			ms, err := startMetrics(addr, o.metrics, log)
			if err != nil {
				o.startErr = err
				return
			}
			o.metricsSrv = ms
		}
		if path := s.cfg.AdminSocketPath(); path != "" {
			a, err := startAdmin(path, newAdminHandler(serverAdmin{s}, log), log)
			if err != nil {
				o.startErr = err
				if o.metricsSrv != nil {
					o.metricsSrv.Close(context.Background())
					o.metricsSrv = nil
				}
				return
			}
			o.admin = a
		}
		if s.cfg.WebSocket.Listen != "" {
			ws, err := s.startWebSocket()
			if err != nil {
				o.startErr = err
				if o.metricsSrv != nil {
					o.metricsSrv.Close(context.Background())
					o.metricsSrv = nil
				}
				if o.admin != nil {
					o.admin.Close(context.Background())
					o.admin = nil
				}
				return
			}
			o.ws = ws
		}
	})
	return o.startErr
}

// stopOps stops the admin socket (removing it), the metrics listener and the
// WebSocket listener.
func (s *Server) stopOps(ctx context.Context) error {
	o := &s.ops
	o.mu.Lock()
	admin, ms, ws := o.admin, o.metricsSrv, o.ws
	o.admin, o.metricsSrv, o.ws = nil, nil, nil
	o.mu.Unlock()
	var errs []error
	if ws != nil {
		errs = append(errs, ws.Close(ctx))
	}
	if admin != nil {
		errs = append(errs, admin.Close(ctx))
	}
	if ms != nil {
		errs = append(errs, ms.Close(ctx))
	}
	return errors.Join(errs...)
}

// Metrics are the server's Prometheus metrics (nil before the server is
// initialised by Serve, Mint or Reload).
func (s *Server) Metrics() *Metrics {
	return s.ops.metrics
}

// MetricsAddr is the address general.metrics_listen is bound to, nil when
// it is not serving.
func (s *Server) MetricsAddr() net.Addr {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	if s.ops.metricsSrv == nil {
		return nil
	}
	return s.ops.metricsSrv.Addr()
}

// MetricsHandler serves /metrics and /healthz of this server, for a caller
// that wants them on a listener of its own.
func (s *Server) MetricsHandler() http.Handler {
	if m := s.Metrics(); m != nil {
		return m.Handler()
	}
	return http.NotFoundHandler()
}

// serverAdmin is the admin API's view of a Server.
type serverAdmin struct{ s *Server }

func (a serverAdmin) HostNames() []string { return a.s.cfg.General.Hosts }

func (a serverAdmin) HostKeys() ([]adminclient.Host, error) {
	var out []adminclient.Host
	for host, infos := range a.s.Hosts() {
		h := adminclient.Host{Host: host, Keys: []adminclient.Key{}}
		for _, ki := range infos {
			h.Keys = append(h.Keys, adminclient.Key{Name: ki.Name, Type: ki.Type, Size: ki.Size})
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out, nil
}

func (a serverAdmin) Mint(_ context.Context, bare string) (string, time.Time, error) {
	tok, exp, err := a.s.Mint(bare)
	if err != nil {
		return "", time.Time{}, adminStatusOf(err)
	}
	return tok, exp, nil
}

func (a serverAdmin) Sessions() map[string][]string { return a.s.Sessions() }

// ClusterSessions answers from the cluster's session directory, which holds
// this node's sessions too, so the list is one consistent view.
func (a serverAdmin) ClusterSessions() (string, map[string]string, bool) {
	node := a.s.ClusterNode()
	if node == nil {
		return "", nil, false
	}
	all := node.AllBindings()
	where := make(map[string]string, len(all))
	for _, b := range all {
		where[b.JID] = b.Node
	}
	return node.Name(), where, true
}
