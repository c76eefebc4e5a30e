package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Ledger metric names, as /metrics exports them (docs/operations.md,
// deploy/monitoring/grafana-dashboard.json).
const (
	MetricRecords            = "normledger_ledger_records"
	MetricObligations        = "normledger_ledger_obligations"
	MetricOverdueObligations = "normledger_ledger_overdue_obligations"
	MetricLatestHeight       = "normledger_ledger_latest_height"
	MetricAttestedHeight     = "normledger_ledger_attested_height"
	MetricFinalizeBlockTime  = "normledger_ledger_finalize_block_duration_seconds"
	MetricCommitTime         = "normledger_ledger_commit_duration_seconds"
	MetricRecounts           = "normledger_ledger_recounts_total"
)

// recentDeltas is how many blocks may commit while a recount reads the
// state (their deltas are applied to its result).
const recentDeltas = 256

// LedgerMetricNames lists every ledger metric family the node exports.
var LedgerMetricNames = []string{MetricRecords, MetricObligations, MetricOverdueObligations, MetricLatestHeight,
	MetricAttestedHeight, MetricFinalizeBlockTime, MetricCommitTime, MetricRecounts}

// LedgerMetrics is a Prometheus collector of the ledger's committed state:
// records by kind, obligations by status, the overdue count, the latest and
// attested heights, and how long the app takes to finalize and commit a
// block.
//
// A scrape never scans the state. The counts are established once by a
// recount (the first scrape after the node starts, or after a state-sync
// restore: it reads the by-kind index, one key per block per kind, and the
// obligation status index, one key per obligation) and then kept exact
// block by block from what each block changed: the store's typed summary
// of the block (store.BlockSummary: records by kind, obligations by status,
// each obligation's previous status read where the store rewrites it).
// Counts are those of the newest committed state (latest_height), the
// statuses as the ledger itself records them: an obligation is overdue from
// the first block whose time passes its due time.
type LedgerMetrics struct {
	st          *store.Store
	blockHeight func() int64 // CometBFT's block store height; nil until the node has one
	kinds       []string
	statuses    []pb.ObligationStatus

	finalizeTime, commitTime prometheus.Histogram
	recounts                 prometheus.Counter
	records, obligations     *prometheus.Desc
	overdue, latest, attest  *prometheus.Desc

	rebuild sync.Mutex // one recount at a time
	mu      sync.Mutex // guards everything below; never held across the app's Commit
	counts  *ledgerCounts
	// committing says the app is committing the pending block: the store's
	// version may be one ahead of the counts until its delta is applied.
	committing bool
	pending    *blockDelta  // the block finalized and not yet committed
	recent     []blockDelta // the last deltas committed, oldest first, for a recount running concurrently
}

// ledgerCounts are the counts at one committed version.
type ledgerCounts struct {
	version     int64
	records     map[string]int64
	obligations map[pb.ObligationStatus]int64
}

// blockDelta is what one block changed in the counts.
type blockDelta struct {
	base, version int64 // the version the block built on, and the one it committed
	records       map[string]int64
	obligations   map[pb.ObligationStatus]int64
	err           error // the delta is unknown: the counts must be recounted
}

func (c *ledgerCounts) apply(d *blockDelta) {
	for k, n := range d.records {
		c.records[k] += n
	}
	for s, n := range d.obligations {
		c.obligations[s] += n
	}
	c.version = d.version
}

// NewLedgerMetrics makes the collector of st's ledger metrics. Wrap the
// app with it so that it sees every block.
func NewLedgerMetrics(st *store.Store) *LedgerMetrics {
	m := &LedgerMetrics{st: st}
	for _, k := range ledger.DefaultRegistry().Kinds() {
		m.kinds = append(m.kinds, k.Name)
	}
	for v := range pb.ObligationStatus_name {
		if s := pb.ObligationStatus(v); s != pb.ObligationStatus_OBLIGATION_STATUS_UNSPECIFIED {
			m.statuses = append(m.statuses, s)
		}
	}
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m.finalizeTime = prometheus.NewHistogram(prometheus.HistogramOpts{Name: MetricFinalizeBlockTime, Buckets: buckets,
		Help: "Time the app takes to execute a block (ABCI FinalizeBlock: the overdue sweep and every transaction, up to the app hash)."})
	m.commitTime = prometheus.NewHistogram(prometheus.HistogramOpts{Name: MetricCommitTime, Buckets: buckets,
		Help: "Time the app takes to persist a finalized block (ABCI Commit: record log tiles, then the state version)."})
	m.recounts = prometheus.NewCounter(prometheus.CounterOpts{Name: MetricRecounts,
		Help: "Full recounts of records and obligations from the state indexes (at the first scrape after start or a state-sync restore; otherwise counts follow each block)."})
	m.records = prometheus.NewDesc(MetricRecords, "Records in the newest committed state, by kind.", []string{"kind"}, nil)
	m.obligations = prometheus.NewDesc(MetricObligations, "Obligations in the newest committed state, by status (open, met, met_late, overdue, waived).", []string{"status"}, nil)
	m.overdue = prometheus.NewDesc(MetricOverdueObligations, "Obligations the newest committed state records as overdue (due time passed by a block's time, not met or waived).", nil, nil)
	m.latest = prometheus.NewDesc(MetricLatestHeight, "Height of the newest committed application state (the counts are of this state).", nil, nil)
	m.attest = prometheus.NewDesc(MetricAttestedHeight, "Newest state height whose app hash is in a block header (what reads with proofs default to).", nil, nil)
	return m
}

// Wrap returns the ABCI application CometBFT should run: a, timed, with
// every finalized and committed block reported to m.
func (m *LedgerMetrics) Wrap(a *app.App) abci.Application { return &meteredApp{App: a, m: m} }

// setBlockHeight tells m where CometBFT's block store height is (for the attested height).
func (m *LedgerMetrics) setBlockHeight(f func() int64) { m.blockHeight = f }

// meteredApp is the app as CometBFT sees it in a node: the same calls,
// timed, with each block's changes passed to the metrics.
type meteredApp struct {
	*app.App
	m *LedgerMetrics
}

func (a *meteredApp) FinalizeBlock(ctx context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	start := time.Now()
	res, err := a.App.FinalizeBlock(ctx, req)
	if err != nil {
		return res, err
	}
	a.m.finalizeTime.Observe(time.Since(start).Seconds())
	d := deltaOf(a.m.st.Version(), a.App.LastBlock())
	a.m.mu.Lock()
	a.m.pending = d
	a.m.mu.Unlock()
	return res, nil
}

// Commit runs the app's commit without the metrics lock (a scrape never
// waits for a block to reach disk); the block's delta is applied after.
// Meanwhile a scrape reports the counts of the version before, which
// committing marks as current.
func (a *meteredApp) Commit(ctx context.Context, req *abci.RequestCommit) (*abci.ResponseCommit, error) {
	a.m.mu.Lock()
	a.m.committing = true
	a.m.mu.Unlock()
	start := time.Now()
	res, err := a.App.Commit(ctx, req)
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	a.m.committing = false
	if err != nil {
		return res, err
	}
	a.m.commitTime.Observe(time.Since(start).Seconds())
	a.m.committedLocked()
	return res, nil
}

// deltaOf is what a finalized block changed in the counts, from the
// store's typed summary of the block (records by kind, obligations by
// status as the store wrote them).
// (The summary's maps are the ended block's own; nothing writes them again.)
func deltaOf(base int64, sum *store.BlockSummary) *blockDelta {
	if sum == nil {
		return &blockDelta{base: base, err: fmt.Errorf("block after version %d: no summary", base)}
	}
	return &blockDelta{base: base, records: sum.Records, obligations: sum.Obligations}
}

// committedLocked applies the pending block's delta after the app
// committed it (m.mu held).
func (m *LedgerMetrics) committedLocked() {
	d := m.pending
	m.pending = nil
	v := m.st.Version()
	if d == nil {
		d = &blockDelta{err: fmt.Errorf("commit of version %d without a finalized block", v)}
	}
	d.version = v
	if len(m.recent) == recentDeltas {
		m.recent = append(m.recent[:0], m.recent[1:]...)
	}
	m.recent = append(m.recent, *d)
	if m.counts == nil {
		return
	}
	if d.err != nil || m.counts.version != d.base {
		m.counts = nil // recounted at the next scrape
		return
	}
	m.counts.apply(d)
}

// recount establishes the counts by reading the state's indexes, unless
// they are known. The read runs without blocking commits: the deltas of
// blocks committed meanwhile are applied to its result.
func (m *LedgerMetrics) recount() error {
	m.rebuild.Lock()
	defer m.rebuild.Unlock()
	m.mu.Lock()
	known := m.counts != nil && (m.counts.version == m.st.Version() || m.committing)
	if !known {
		// A state-sync restore moved the state under the counts.
		m.counts = nil
	}
	m.mu.Unlock()
	if known {
		return nil
	}
	c, err := m.count()
	if err != nil {
		return err
	}
	m.recounts.Inc()
	return m.install(c)
}

// install makes c, counted at some recent version, the counts: the deltas
// of the blocks committed since are applied to it first.
func (m *LedgerMetrics) install(c *ledgerCounts) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.recent {
		if d := &m.recent[i]; d.base == c.version && d.err == nil {
			c.apply(d)
		}
	}
	if v := m.st.Version(); c.version != v {
		return fmt.Errorf("ledger metrics: counts of version %d cannot be brought to %d (more than %d blocks committed during the recount)", c.version, v, recentDeltas)
	}
	m.counts = c
	return nil
}

// count reads the counts of the newest committed version from its indexes.
func (m *LedgerMetrics) count() (*ledgerCounts, error) {
	c := &ledgerCounts{version: m.st.Version(), records: map[string]int64{}, obligations: map[pb.ObligationStatus]int64{}}
	if c.version == 0 {
		return c, nil // nothing committed: nothing to count
	}
	v, err := m.st.At(c.version)
	if err != nil {
		return nil, err
	}
	rs, err := v.RecordsByKind(m.kinds)
	if err != nil {
		return nil, fmt.Errorf("count records: %w", err)
	}
	for k, n := range rs {
		c.records[k] = int64(n)
	}
	obs, err := v.ObligationsByStatus()
	if err != nil {
		return nil, fmt.Errorf("count obligations: %w", err)
	}
	for s, n := range obs {
		c.obligations[s] = int64(n)
	}
	return c, nil
}

// Describe implements prometheus.Collector.
func (m *LedgerMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.records, m.obligations, m.overdue, m.latest, m.attest} {
		ch <- d
	}
	m.finalizeTime.Describe(ch)
	m.commitTime.Describe(ch)
	m.recounts.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *LedgerMetrics) Collect(ch chan<- prometheus.Metric) {
	latest := m.st.Version()
	ch <- prometheus.MustNewConstMetric(m.latest, prometheus.GaugeValue, float64(latest))
	if m.blockHeight != nil {
		attested := m.blockHeight() - 1
		if attested > latest {
			attested = latest
		}
		ch <- prometheus.MustNewConstMetric(m.attest, prometheus.GaugeValue, float64(max(attested, 0)))
	}
	m.finalizeTime.Collect(ch)
	m.commitTime.Collect(ch)
	// Counts unknown (a recount failed) are left out rather than reported wrong.
	if err := m.recount(); err == nil {
		m.mu.Lock()
		c := m.counts
		var recs []prometheus.Metric
		if c != nil {
			for _, k := range m.kinds {
				recs = append(recs, prometheus.MustNewConstMetric(m.records, prometheus.GaugeValue, float64(c.records[k]), k))
			}
			for _, s := range m.statuses {
				recs = append(recs, prometheus.MustNewConstMetric(m.obligations, prometheus.GaugeValue, float64(c.obligations[s]), layout.StatusName(s)))
			}
			recs = append(recs, prometheus.MustNewConstMetric(m.overdue, prometheus.GaugeValue,
				float64(c.obligations[pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE])))
		}
		m.mu.Unlock()
		for _, r := range recs {
			ch <- r
		}
	}
	m.recounts.Collect(ch)
}
