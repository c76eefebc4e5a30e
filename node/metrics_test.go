package node_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/api"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ledgerMetrics scrapes REST /metrics and returns the normledger_ledger_
// gauges and counters, keyed name or name{label=value}.
func ledgerMetrics(t *testing.T, restAddr string) map[string]float64 {
	t.Helper()
	res, err := http.Get("http://" + restAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", res.Status)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, name := range node.LedgerMetricNames {
		f, ok := fams[name]
		if !ok {
			t.Fatalf("/metrics has no %s", name)
		}
		node.AddSamples(out, name, f.Metric)
	}
	return out
}

// /metrics reports the ledger: records by kind, and an obligation whose
// due time passes shows as overdue in the first block after it, as the
// ledger records it; heights and block timings are there. The counts
// survive a restart (recounted once from the state).
func TestLedgerMetrics(t *testing.T) {
	n, c, ms := startNode(t, api.Config{ReadRateLimit: 0})
	ctx := context.Background()
	m0 := ledgerMetrics(t, n.RESTAddress())
	// startNode waited for block 2 in CometBFT's block store: the app has
	// committed block 1 at least (block 2 is saved before the app runs it).
	if m0[node.MetricRecords+"{kind=notification}"] != 0 || m0[node.MetricLatestHeight] < 1 || m0[node.MetricAttestedHeight] < 1 {
		t.Fatalf("before any record: %v", m0)
	}
	res, err := c.Submit(ctx, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_CONSULTATION_REQUEST, Recipients: []string{"xbb"},
		Summary: "Consultation on scanning of water utilities.", ResponseRequested: true,
		RespondBy: timestamppb.New(time.Now().Add(3 * time.Second))}}}, ms["xaa"].Signer(), nil, true)
	if err != nil || !res.Committed {
		t.Fatalf("%+v %v", res, err)
	}
	m1 := ledgerMetrics(t, n.RESTAddress())
	if m1[node.MetricRecords+"{kind=notification}"] != 1 || m1[node.MetricObligations+"{status=open}"] != 2 || m1[node.MetricOverdueObligations] != 0 {
		t.Fatalf("after the notification: %v", m1)
	}
	respond := ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_RESPOND, res.ID, "xbb")
	deadline := time.Now().Add(30 * time.Second)
	var m2 map[string]float64
	for {
		m2 = ledgerMetrics(t, n.RESTAddress())
		if m2[node.MetricOverdueObligations] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the response obligation never showed as overdue: %v", m2)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m2[node.MetricObligations+"{status=overdue}"] != 1 || m2[node.MetricObligations+"{status=open}"] != 1 {
		t.Fatalf("overdue: %v", m2)
	}
	// The ledger says so too (at the newest state the metrics describe).
	view, err := n.Store().At(0)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := view.Obligation(respond)
	if err != nil || ob == nil || ob.Status != pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE {
		t.Fatalf("obligation %s: %v %v", respond, ob, err)
	}
	if m2[node.MetricFinalizeBlockTime+"_count"] < 1 || m2[node.MetricCommitTime+"_count"] < 1 {
		t.Fatalf("block timings: %v", m2)
	}
	// Scrapes do not recount: the counts follow the blocks.
	if m2[node.MetricRecounts] != 1 {
		t.Fatalf("%v recounts after several scrapes", m2[node.MetricRecounts])
	}

	// Restart on the same home: the same figures, one recount.
	home := n.CometConfig().RootDir
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	ccfg, err := operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	n2, err := node.New(node.Config{Home: home, Comet: ccfg, LogOutput: io.Discard,
		API: api.Config{RESTListen: freeAddr(t), ReadRateLimit: 0}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n2.Stop() })
	m3 := ledgerMetrics(t, n2.RESTAddress())
	for _, k := range []string{node.MetricRecords + "{kind=notification}", node.MetricObligations + "{status=open}",
		node.MetricObligations + "{status=overdue}", node.MetricOverdueObligations} {
		if m3[k] != m2[k] {
			t.Errorf("after the restart %s = %v, before %v", k, m3[k], m2[k])
		}
	}
	if m3[node.MetricRecounts] != 1 {
		t.Errorf("after the restart: %v recounts", m3[node.MetricRecounts])
	}
}
