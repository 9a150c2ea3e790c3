package server

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// smCounts are stream management's metrics: counted always (an atomic add
// per event), exported when the server has metrics.
type smCounts struct {
	detached atomic.Int64 // sessions waiting for a resumption now
	resumed  atomic.Int64
	expired  atomic.Int64 // not resumed within resume_timeout
	bounced  atomic.Int64 // unacked stanzas answered with an error when their session ended
}

// register adds the metrics to m's registry (nothing without metrics).
func (c *smCounts) register(m *Metrics) {
	if m == nil {
		return
	}
	m.Registry().MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "xtokend_sm_detached_sessions",
			Help: "Resumable sessions whose connection was lost, waiting for a resumption (XEP-0198).",
		}, func() float64 { return float64(c.detached.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "xtokend_sm_resumed_total",
			Help: "Sessions resumed on a new connection (XEP-0198).",
		}, func() float64 { return float64(c.resumed.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "xtokend_sm_expired_total",
			Help: "Detached sessions that ended without a resumption within resume_timeout.",
		}, func() float64 { return float64(c.expired.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "xtokend_sm_bounced_total",
			Help: "Unacknowledged stanzas answered to their sender with an error when their session ended (chat and normal messages are stored offline instead where storage is on).",
		}, func() float64 { return float64(c.bounced.Load()) }),
	)
}
