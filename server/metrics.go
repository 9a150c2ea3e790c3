package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of one Server.
//
// Each Server has its own registry (tests run several servers in one
// process, and the global registry would mix them). Every label value comes
// from a closed set: configured hosts, SASL conditions, stanza kinds. A value
// outside the set is counted as "other", so a client cannot grow the series
// count, and no JID, key or token is ever a label.
type Metrics struct {
	reg *prometheus.Registry

	logins     *prometheus.CounterVec
	failures   *prometheus.CounterVec
	sessions   *prometheus.GaugeVec
	stanzas    *prometheus.CounterVec
	limited    *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	lastReload prometheus.Gauge

	// The series every login, session and routed stanza counts in, looked
	// up once: WithLabelValues hashes its label values on every call.
	byHost   map[string]*hostSeries
	byKind   map[string]prometheus.Counter
	limitedN map[string]prometheus.Counter
}

// hostSeries are one configured host's login and session series.
type hostSeries struct {
	success, failure prometheus.Counter
	sessions         [2]prometheus.Gauge // by transports' order
}

// otherLabel is the label value for anything outside a label's closed set.
const otherLabel = "other"

// saslConditions are the failure conditions of RFC 6120 section 6.5.
var saslConditions = []string{
	"aborted", "account-disabled", "credentials-expired", "encryption-required",
	"incorrect-encoding", "invalid-authzid", "invalid-mechanism", "malformed-request",
	"mechanism-too-weak", "not-authorized", "temporary-auth-failure",
}

// stanzaKinds are the kinds of routed stanzas.
var stanzaKinds = []string{"message", "presence", "iq"}

// transports are how a session reached the server: TCP, or XMPP over WebSocket.
var transports = []string{"tcp", "websocket"}

// NewMetrics makes the metrics of a server serving hosts. replayLen, if not
// nil, is read at each scrape for the replay cache's size.
func NewMetrics(hosts []string, replayLen func() int) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xtokend_logins_total",
			Help: "SASL login attempts by virtual host and result (success, failure, limited).",
		}, []string{"host", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xtokend_sasl_failures_total",
			Help: "Failed SASL attempts by virtual host and RFC 6120 failure condition.",
		}, []string{"host", "condition"}),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xtokend_sessions",
			Help: "Bound client sessions by virtual host and transport (tcp, websocket).",
		}, []string{"host", "transport"}),
		stanzas: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xtokend_stanzas_routed_total",
			Help: "Stanzas routed by the server, by kind (message, presence, iq).",
		}, []string{"kind"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xtokend_rate_limited_total",
			Help: "Connections and logins refused by the per-address limits.",
		}, []string{"what"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xtokend_reloads_total",
			Help: "Reloads of keys and certificates (SIGHUP) by result (success, failure).",
		}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xtokend_last_reload_success_timestamp_seconds",
			Help: "When keys and certificates were last loaded successfully (start or reload).",
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.logins, m.failures, m.sessions, m.stanzas, m.limited, m.reloads, m.lastReload,
	)
	if replayLen != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "xtokend_replay_cache_tokens",
			Help: "Tokens held by the replay cache (a full cache refuses logins).",
		}, func() float64 { return float64(replayLen()) }))
	}
	// Series that exist from the start read 0 rather than missing, which is
	// what rate() and alerts on absent series want.
	m.byHost = make(map[string]*hostSeries, len(hosts))
	for _, h := range hosts {
		hs := &hostSeries{
			success: m.logins.WithLabelValues(h, "success"),
			failure: m.logins.WithLabelValues(h, "failure"),
		}
		for i, t := range transports {
			hs.sessions[i] = m.sessions.WithLabelValues(h, t)
		}
		m.byHost[h] = hs
	}
	m.byKind = make(map[string]prometheus.Counter, len(stanzaKinds))
	for _, k := range stanzaKinds {
		m.byKind[k] = m.stanzas.WithLabelValues(k)
	}
	m.limitedN = map[string]prometheus.Counter{
		"connection": m.limited.WithLabelValues("connection"),
		"login":      m.limited.WithLabelValues("login"),
	}
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.lastReload.SetToCurrentTime()
	return m
}

// Registry is the registry the metrics live in, for a caller that wants to
// add its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) hostLabel(host string) string {
	if m.byHost[host] != nil {
		return host
	}
	return otherLabel
}

func oneOf(v string, set []string) string {
	if slices.Contains(set, v) {
		return v
	}
	return otherLabel
}

// OnLogin counts one SASL attempt; condition is the failure condition ("" on
// success).
func (m *Metrics) OnLogin(host, condition string, ok bool) {
	if m == nil {
		return
	}
	hs := m.byHost[host]
	switch {
	case ok && hs != nil:
		hs.success.Inc()
		return
	case ok:
		m.logins.WithLabelValues(otherLabel, "success").Inc()
		return
	case hs != nil:
		hs.failure.Inc()
	default:
		m.logins.WithLabelValues(otherLabel, "failure").Inc()
	}
	m.failures.WithLabelValues(m.hostLabel(host), oneOf(condition, saslConditions)).Inc()
}

// sessionGauge is the sessions series of host and transport.
func (m *Metrics) sessionGauge(host, transport string) prometheus.Gauge {
	i := slices.Index(transports, transport)
	if hs := m.byHost[host]; hs != nil && i >= 0 {
		return hs.sessions[i]
	}
	return m.sessions.WithLabelValues(m.hostLabel(host), oneOf(transport, transports))
}

// OnSessionStart counts a newly bound session; transport is "tcp" or
// "websocket".
func (m *Metrics) OnSessionStart(host, transport string) {
	if m != nil {
		m.sessionGauge(host, transport).Inc()
	}
}

// OnSessionEnd counts a session that ended.
func (m *Metrics) OnSessionEnd(host, transport string) {
	if m != nil {
		m.sessionGauge(host, transport).Dec()
	}
}

// OnStanza counts one routed stanza of kind message, presence or iq.
func (m *Metrics) OnStanza(kind string) {
	if m == nil {
		return
	}
	if c := m.byKind[kind]; c != nil {
		c.Inc()
		return
	}
	m.stanzas.WithLabelValues(otherLabel).Inc()
}

// OnLimited counts a refusal by a per-address limit; what is "connection" or
// "login".
func (m *Metrics) OnLimited(what string) {
	if m == nil {
		return
	}
	if c := m.limitedN[what]; c != nil {
		c.Inc()
		return
	}
	m.limited.WithLabelValues(otherLabel).Inc()
}

// OnReload counts a reload and, when it worked, records when.
func (m *Metrics) OnReload(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.lastReload.SetToCurrentTime()
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
}

// Handler serves /metrics (the Prometheus text format) and /healthz (200 "ok"
// while the process serves).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// metricsServer is the HTTP listener of general.metrics_listen.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// startMetrics listens on addr and serves m's handler until closed.
func startMetrics(addr string, m *Metrics, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: metrics_listen %q: %w", addr, err)
	}
	ms := &metricsServer{ln: ln, srv: &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	go func() {
		if err := ms.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String(), "paths", "/metrics /healthz")
	return ms, nil
}

// Addr is the address the metrics listener is bound to.
func (ms *metricsServer) Addr() net.Addr { return ms.ln.Addr() }

// Close stops the listener, letting scrapes in flight finish until ctx ends.
func (ms *metricsServer) Close(ctx context.Context) error {
	return ms.srv.Shutdown(ctx)
}
