package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "normledger", Subsystem: "api", Name: "requests_total", Help: "REST requests by route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "normledger", Subsystem: "api", Name: "request_duration_seconds", Help: "REST request latency by route.",
			Buckets: latencyBuckets,
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// latencyBuckets are REST's and gRPC's latency buckets (seconds); the
// last ones are for commit-mode broadcasts, which wait for a block.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5, 30}

// observe counts a request under its route's template (/v1/records/{id}),
// so labels stay bounded: paths no route has, and methods no route takes,
// count as "other".
func (m *metrics) observe(method string, rt *apiRoute, status int, d time.Duration) {
	label := "other"
	if rt != nil {
		label = rt.template()
		if _, ok := rt.methods[method]; !ok && method != http.MethodHead && method != http.MethodOptions {
			method = "other"
		}
	} else {
		method = "other"
	}
	m.requests.WithLabelValues(method, label, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, label).Observe(d.Seconds())
}
