package witness

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/normledger/normledger/internal/buildinfo"
)

// Witness metric names, as MetricsHandler (witness start --metrics-laddr)
// exports them (docs/witnesses.md).
const (
	MetricCosigned       = "normledger_witness_cosigned_total"
	MetricRefused        = "normledger_witness_refused_total"
	MetricCosignedSize   = "normledger_witness_cosigned_size"
	MetricLastCosigned   = "normledger_witness_last_cosigned_timestamp_seconds"
	MetricCheckpointSize = "normledger_witness_checkpoint_size"
	MetricFollowErrors   = "normledger_witness_follow_errors_total"
	MetricBuildInfo      = buildinfo.MetricName
)

// MetricNames lists every metric family of the witness's own (besides the
// Go runtime's go_* and the process's process_*).
var MetricNames = []string{MetricCosigned, MetricRefused, MetricCosignedSize, MetricLastCosigned, MetricCheckpointSize,
	MetricFollowErrors, MetricBuildInfo}

// Reasons a checkpoint is refused (the reason label of MetricRefused).
const (
	// ReasonInconsistent: not consistent with the checkpoint cosigned last
	// (the consistency proof fails, or another root at the same size): a
	// fork of the log, or a broken proof.
	ReasonInconsistent = "inconsistent"
	// ReasonUnsigned: no valid signature of the log (or, for a normledger
	// log, a commit certificate the light client does not accept).
	ReasonUnsigned = "unsigned"
	// ReasonStale: the request's old size is not the size cosigned last
	// (409; the submitter retries from the size the witness answers).
	ReasonStale = "stale"
	// ReasonUnknownOrigin: a log this witness does not witness.
	ReasonUnknownOrigin = "unknown_origin"
	// ReasonMalformed: a request or checkpoint that does not parse, is too
	// large or too slow.
	ReasonMalformed = "malformed"
	// ReasonInternal: the witness could not persist or sign.
	ReasonInternal = "internal"
)

var refusalReasons = []string{ReasonInconsistent, ReasonUnsigned, ReasonStale, ReasonUnknownOrigin, ReasonMalformed, ReasonInternal}

type metrics struct {
	reg            *prometheus.Registry
	cosigned       *prometheus.CounterVec
	refused        *prometheus.CounterVec
	size, lastTime *prometheus.GaugeVec
	served         *prometheus.GaugeVec
	followErrors   *prometheus.CounterVec
}

func newMetrics(version string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		cosigned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricCosigned,
			Help: "Checkpoints cosigned, by log origin."}, []string{"origin"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRefused,
			Help: "Checkpoints refused, by log origin (empty when unknown) and reason: inconsistent, unsigned, stale, unknown_origin, malformed, internal."},
			[]string{"origin", "reason"}),
		size: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricCosignedSize,
			Help: "Size of the checkpoint cosigned last, which the witness trusts: it cosigns only checkpoints consistent with it."}, []string{"origin"}),
		lastTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricLastCosigned,
			Help: "Unix time of the last cosignature this process made, by log origin."}, []string{"origin"}),
		served: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricCheckpointSize,
			Help: "With --follow: size of the newest checkpoint each node served."}, []string{"origin", "node"}),
		followErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricFollowErrors,
			Help: "With --follow: rounds in which fetching, cosigning or delivering a node's checkpoint failed."}, []string{"origin", "node"}),
	}
	m.reg.MustRegister(m.cosigned, m.refused, m.size, m.lastTime, m.served, m.followErrors, buildinfo.Collector(version),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// addLog starts a log's series at its state.
func (m *metrics) addLog(origin string, size uint64) {
	m.cosigned.WithLabelValues(origin)
	for _, r := range refusalReasons {
		m.refused.WithLabelValues(origin, r)
	}
	m.size.WithLabelValues(origin).Set(float64(size))
}

// refusal counts a refused checkpoint of origin ("" when unknown).
func (m *metrics) refusal(origin string, err error) {
	reason := ReasonInternal
	var e *Error
	if errors.As(err, &e) {
		reason = e.reason()
	}
	m.refused.WithLabelValues(origin, reason).Inc()
}

// reason is the refusal reason of e.
func (e *Error) reason() string {
	if e.why != "" {
		return e.why
	}
	switch e.Status {
	case http.StatusForbidden:
		return ReasonUnsigned
	case http.StatusNotFound:
		return ReasonUnknownOrigin
	case http.StatusConflict:
		return ReasonStale
	case http.StatusUnprocessableEntity:
		return ReasonInconsistent
	case http.StatusInternalServerError:
		return ReasonInternal
	}
	return ReasonMalformed
}

// MetricsHandler serves the witness's Prometheus metrics (GET /metrics
// on a listener of its own: witness start --metrics-laddr).
func (w *Witness) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.mx.reg, promhttp.HandlerOpts{}))
	return mux
}
