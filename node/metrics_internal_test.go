package node

import (
	"context"
	"maps"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// metricsChain drives a metered app the way CometBFT does (FinalizeBlock,
// Commit), with no consensus around it.
type metricsChain struct {
	t       *testing.T
	st      *store.Store
	m       *LedgerMetrics
	abci    abci.Application
	members map[string]fixture.Member
	seq     map[string]uint64
	height  int64
	now     time.Time
}

const metricsChainID = "metrics-test"

func newMetricsChain(t *testing.T) *metricsChain {
	t.Helper()
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	c := &metricsChain{t: t, st: st, m: NewLedgerMetrics(st), seq: map[string]uint64{}, now: t0}
	a, err := app.New(st, app.Options{Clock: func() time.Time { return c.now }})
	if err != nil {
		t.Fatal(err)
	}
	c.abci = c.m.Wrap(a)
	ms := fixture.Dev(3, fixture.SeededKey)
	c.members = fixture.ByID(ms)
	g := fixture.Genesis(ms)
	fixture.SetValidator(g, "xaa", fixture.SeededValidatorKey("xaa").PubKey().Bytes(), 10)
	gs, err := protojson.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.abci.InitChain(context.Background(), &abci.RequestInitChain{ChainId: metricsChainID, Time: t0, InitialHeight: 1, AppStateBytes: gs,
		ConsensusParams: &cmtproto.ConsensusParams{Version: &cmtproto.VersionParams{App: ledger.CurrentAppVersion}}}); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *metricsChain) sign(s ledger.Signer, rec *pb.Record, co ...ledger.Signer) []byte {
	c.t.Helper()
	c.seq[s.Member]++
	rec.SchemaVersion = 1
	tx, err := ledger.BuildTx(&pb.TxBody{ChainId: metricsChainID, Sequence: c.seq[s.Member], Record: rec}, s, co...)
	if err != nil {
		c.t.Fatal(err)
	}
	return tx
}

func (c *metricsChain) signer(id string) ledger.Signer { return c.members[id].Signer() }

// block finalizes and commits txs at c.now (advanced by a second), fails on
// any rejected tx, and returns the record ids.
func (c *metricsChain) block(txs ...[]byte) []string {
	c.t.Helper()
	c.height++
	c.now = c.now.Add(time.Second)
	ctx := context.Background()
	res, err := c.abci.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: txs, Height: c.height, Time: c.now})
	if err != nil {
		c.t.Fatal(err)
	}
	var ids []string
	for i, r := range res.TxResults {
		if r.Code != 0 {
			c.t.Fatalf("block %d tx %d rejected: %d %s", c.height, i, r.Code, r.Log)
		}
		ids = append(ids, string(r.Data))
	}
	if _, err := c.abci.Commit(ctx, &abci.RequestCommit{}); err != nil {
		c.t.Fatal(err)
	}
	return ids
}

// check compares the counts kept block by block with a recount of the
// committed state's indexes.
func (c *metricsChain) check(m *LedgerMetrics) *ledgerCounts {
	c.t.Helper()
	want, err := m.count()
	if err != nil {
		c.t.Fatal(err)
	}
	m.mu.Lock()
	got := m.counts
	m.mu.Unlock()
	if got == nil {
		c.t.Fatalf("height %d: counts unknown", c.height)
	}
	if got.version != want.version || !sameCounts(got.records, want.records) || !sameCounts(got.obligations, want.obligations) {
		c.t.Fatalf("height %d: counts kept per block %+v, recount %+v", c.height, got, want)
	}
	return got
}

// sameCounts compares ignoring zero entries.
func sameCounts[K comparable](a, b map[K]int64) bool {
	nz := func(m map[K]int64) map[K]int64 {
		out := map[K]int64{}
		for k, v := range m {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	return maps.Equal(nz(a), nz(b))
}

func scrape(t *testing.T, m *LedgerMetrics) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		addSamples(out, f.GetName(), f.Metric)
	}
	return out
}

// addSamples adds the metrics of family name to out, keyed
// name{label=value}...: a gauge's or counter's value, a histogram's sample
// count as name_count. (metrics_test.go has it as AddSamples.)
func addSamples(out map[string]float64, name string, ms []*dto.Metric) {
	for _, m := range ms {
		k := name
		for _, l := range m.Label {
			k += "{" + l.GetName() + "=" + l.GetValue() + "}"
		}
		switch {
		case m.Gauge != nil:
			out[k] = m.Gauge.GetValue()
		case m.Counter != nil:
			out[k] = m.Counter.GetValue()
		case m.Histogram != nil:
			out[k+"_count"] = float64(m.Histogram.GetSampleCount())
		}
	}
}

func recounts(t *testing.T, m *LedgerMetrics) float64 {
	var d dto.Metric
	if err := m.recounts.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.Counter.GetValue()
}

// The counts kept from each block's events equal a recount of the state
// after every block: the scenario's records of every kind, then obligations
// swept overdue, met late, waived, and created and met in one block. A
// scrape recounts only once; a new collector on the same state (a restart)
// recounts to the same figures; a recount that races commits is brought up
// to date from their deltas.
func TestLedgerMetricsFollowBlocks(t *testing.T) {
	c := newMetricsChain(t)
	got := scrape(t, c.m) // the first scrape counts (nothing yet)
	if got[MetricRecords+"{kind=pledge}"] != 0 || recounts(t, c.m) != 1 {
		t.Fatalf("first scrape: %v", got)
	}
	var ids []string
	for i, s := range fixture.Scenario(c.now) {
		signer := s.Signer(c.members)
		var co []ledger.Signer
		for _, id := range s.CoSigners {
			co = append(co, c.signer(id))
		}
		ids = append(ids, c.block(c.sign(signer, s.Build(ids), co...))...)
		c.check(c.m)
		if i == 5 {
			scrape(t, c.m)
		}
	}
	// Fifteen days on: the unanswered acknowledgement, the finding's
	// replies and the challenge's reply fall overdue in this block.
	c.now = c.now.Add(15 * 24 * time.Hour)
	c.block()
	counts := c.check(c.m)
	overdue := counts.obligations[pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE]
	if overdue < 3 {
		t.Fatalf("after the deadlines: %d overdue (%v)", overdue, counts.obligations)
	}
	got = scrape(t, c.m)
	if got[MetricOverdueObligations] != float64(overdue) || got[MetricObligations+"{status=overdue}"] != float64(overdue) {
		t.Fatalf("scrape: overdue %v, want %d", got, overdue)
	}
	// Overdue -> met late (the reply to the finding, to the challenge) and
	// overdue -> waived (lumen releases xaa from replying).
	c.block(
		c.sign(c.signer("xbb"), &pb.Record{Body: &pb.Record_Response{Response: &pb.Response{RequestId: ids[6],
			Disposition: pb.ResponseDisposition_RESPONSE_DISPOSITION_ACCEPTED, Summary: "Agreed."}}}),
		c.sign(c.signer("observatory"), &pb.Record{Body: &pb.Record_Response{Response: &pb.Response{RequestId: ids[7],
			Disposition: pb.ResponseDisposition_RESPONSE_DISPOSITION_PARTIAL, Summary: "Partly agreed."}}}),
		c.sign(c.signer("lumen"), &pb.Record{Body: &pb.Record_Waiver{Waiver: &pb.Waiver{
			ObligationId: ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_REPLY_FINDING, ids[6], "xaa"), Reason: "Answered in person."}}}),
	)
	counts = c.check(c.m)
	if counts.obligations[pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE] != overdue-3 ||
		counts.obligations[pb.ObligationStatus_OBLIGATION_STATUS_WAIVED] < 2 {
		t.Fatalf("after replies and a waiver: %v", counts.obligations)
	}
	// Created and met in one block; then a response deadline two seconds
	// out passes with the next block.
	note := c.sign(c.signer("xaa"), &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_CONSULTATION_REQUEST, Recipients: []string{"xbb"}, Summary: "Consultation on scanning.",
		ResponseRequested: true, RespondBy: timestamppb.New(c.now.Add(3 * time.Second))}}})
	noteID := ledger.RecordID(note)
	c.block(note, c.sign(c.signer("xbb"), &pb.Record{Body: &pb.Record_Acknowledgement{Acknowledgement: &pb.Acknowledgement{NotificationId: noteID}}}))
	before := c.check(c.m).obligations[pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE]
	c.now = c.now.Add(5 * time.Second)
	c.block()
	if n := c.check(c.m).obligations[pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE]; n != before+1 {
		t.Fatalf("the consultation's response: %d overdue, want %d", n, before+1)
	}
	if n := recounts(t, c.m); n != 1 {
		t.Fatalf("%v recounts; counts should follow the blocks", n)
	}
	final := scrape(t, c.m)

	// A restart: a new collector on the same state recounts once, to the same figures.
	m2 := NewLedgerMetrics(c.st)
	again := scrape(t, m2)
	for k, v := range final {
		if k == MetricRecounts || k == MetricFinalizeBlockTime+"_count" || k == MetricCommitTime+"_count" {
			continue
		}
		if again[k] != v {
			t.Errorf("after a restart %s = %v, before %v", k, again[k], v)
		}
	}
	scrape(t, m2)
	if n := recounts(t, m2); n != 1 {
		t.Fatalf("restart: %v recounts", n)
	}

	// A recount that read an older version: the blocks committed while it
	// ran are applied to it.
	stale, err := c.m.count()
	if err != nil {
		t.Fatal(err)
	}
	c.block(c.sign(c.signer("xcc"), &pb.Record{Body: &pb.Record_Acknowledgement{Acknowledgement: &pb.Acknowledgement{NotificationId: ids[1]}}}))
	c.block(c.sign(c.signer("xaa"), &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xbb"}, Summary: "For information."}}}))
	if err := c.m.install(stale); err != nil {
		t.Fatal(err)
	}
	c.check(c.m)
}
