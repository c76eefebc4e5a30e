package monitor

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/normledger/normledger/internal/buildinfo"
)

// Monitor metric names, as the daemon's /metrics (--metrics-laddr) exports
// them, each but build_info with the constant label member
// (docs/monitor.md).
const (
	MetricEventsSeen       = "normledger_monitor_events_total"
	MetricEventsDelivered  = "normledger_monitor_events_delivered_total"
	MetricDeliveryFailures = "normledger_monitor_delivery_failures_total"
	MetricWebhookRetries   = "normledger_monitor_webhook_retries_total"
	MetricDeliveryDuration = "normledger_monitor_delivery_duration_seconds"
	MetricPendingEvents    = "normledger_monitor_pending_events"
	MetricProcessedHeight  = "normledger_monitor_processed_height"
	MetricPolls            = "normledger_monitor_polls_total"
	MetricLastPollOK       = "normledger_monitor_last_successful_poll_timestamp_seconds"
	MetricBuildInfo        = buildinfo.MetricName
)

// Poll results (the result label of MetricPolls).
const (
	pollOK         = "ok"
	pollUnverified = "unverified"
	pollError      = "error"
)

// MetricNames lists every metric family of the monitor's own (besides
// the Go runtime's go_* and the process's process_*).
var MetricNames = []string{MetricEventsSeen, MetricEventsDelivered, MetricDeliveryFailures, MetricWebhookRetries,
	MetricDeliveryDuration, MetricPendingEvents, MetricProcessedHeight, MetricPolls, MetricLastPollOK, MetricBuildInfo}

// eventTypes are every event type, so that each counter starts at 0.
var eventTypes = []string{EventRecord, EventFinding, EventChallenge, EventDueSoon, EventOverdue, EventOwedOverdue, EventSealed,
	EventMismatch, EventPing, EventDelivery, EventCase, EventDisclosure}

type metrics struct {
	reg                         *prometheus.Registry
	seen, delivered, failed     *prometheus.CounterVec
	retries                     prometheus.Counter
	duration                    prometheus.Histogram
	pending, height, lastPollOK prometheus.Gauge
	polls                       *prometheus.CounterVec
}

func newMetrics(member, version string) *metrics {
	reg := prometheus.NewRegistry()
	byType := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"type"})
	}
	m := &metrics{
		reg:       reg,
		seen:      byType(MetricEventsSeen, "Events found and queued for delivery, by type."),
		delivered: byType(MetricEventsDelivered, "Events delivered (printed, or acknowledged 2xx by the webhook), by type."),
		failed:    byType(MetricDeliveryFailures, "Failed delivery attempts (webhook error or non-2xx answer; a failed write without a webhook), by event type."),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: MetricWebhookRetries,
			Help: "Webhook calls that repeat a failed one (the same event, after the backoff)."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: MetricDeliveryDuration,
			Help:    "Time from the first attempt to deliver an event to its delivery, retries included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800}}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricPendingEvents,
			Help: "Events queued in the state file and not yet delivered."}),
		height: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricProcessedHeight,
			Help: "Last state height processed (its events are queued or delivered)."}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricPolls,
			Help: "Polls of the node for a new height, by result: ok (processed or nothing new), unverified (an answer or header failed verification), error."},
			[]string{"result"}),
		lastPollOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricLastPollOK,
			Help: "Unix time of the last poll that succeeded (processed a step or found nothing new)."}),
	}
	for _, t := range eventTypes {
		m.seen.WithLabelValues(t)
		m.delivered.WithLabelValues(t)
		m.failed.WithLabelValues(t)
	}
	for _, r := range []string{pollOK, pollUnverified, pollError} {
		m.polls.WithLabelValues(r)
	}
	prometheus.WrapRegistererWith(prometheus.Labels{"member": member}, reg).MustRegister(
		m.seen, m.delivered, m.failed, m.retries, m.duration, m.pending, m.height, m.polls, m.lastPollOK)
	reg.MustRegister(buildinfo.Collector(version), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// The daemon's observations; a daemon without metrics (tests) has a nil
// *metrics, which observes nothing.

// queued: a step's new events and position are in the state file.
func (m *metrics) queued(evs []*Event, st *state) {
	if m == nil {
		return
	}
	for _, ev := range evs {
		m.seen.WithLabelValues(ev.Type).Inc()
	}
	m.state(st)
}

// deliveredEvent: ev, whose delivery began at start, is marked delivered.
func (m *metrics) deliveredEvent(ev *Event, start time.Time, st *state) {
	if m == nil {
		return
	}
	m.delivered.WithLabelValues(ev.Type).Inc()
	m.duration.Observe(time.Since(start).Seconds())
	m.state(st)
}

// failedAttempt: an attempt to deliver ev failed.
func (m *metrics) failedAttempt(ev *Event) {
	if m != nil {
		m.failed.WithLabelValues(ev.Type).Inc()
	}
}

// retry: a webhook call repeats a failed one.
func (m *metrics) retry() {
	if m != nil {
		m.retries.Inc()
	}
}

// polled: a poll ended with result.
func (m *metrics) polled(result string) {
	if m == nil {
		return
	}
	m.polls.WithLabelValues(result).Inc()
	if result == pollOK {
		m.lastPollOK.SetToCurrentTime()
	}
}

// state sets the gauges that follow the state file.
func (m *metrics) state(st *state) {
	if m == nil {
		return
	}
	m.pending.Set(float64(len(st.Pending)))
	m.height.Set(float64(st.Height))
}

// serveMetrics serves /metrics on l until the returned stop is called.
func serveMetrics(l net.Listener, reg *prometheus.Registry, logf func(string, ...any)) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("metrics listener %s: %v (going on without metrics)", l.Addr(), err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}
