package testnet

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/node"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// overdueGauge scrapes a node's REST /metrics for the ledger's overdue count.
func overdueGauge(t *testing.T, restURL string) float64 {
	t.Helper()
	// The node leaves its counts out of a scrape when a recount failed
	// (more blocks committed during it than it can catch up with, under
	// load) rather than report them wrong: ask again, for a while.
	for deadline := time.Now().Add(15 * time.Second); ; {
		res, err := http.Get(restURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		var p expfmt.TextParser
		fams, err := p.TextToMetricFamilies(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := fams[node.MetricOverdueObligations]; ok && len(f.Metric) == 1 {
			return f.Metric[0].GetGauge().GetValue()
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics of %s has had no %s for 15 s", restURL, node.MetricOverdueObligations)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The seeded scenario puts an obligation overdue within a minute: the
// consultation request nobody answers. The ledger lists it as overdue and
// /metrics counts it.
func TestSeedOverdueWithinAMinute(t *testing.T) {
	t.Parallel() // an in-process network, mostly waiting on block time
	ip := startInProcess(t, 3)
	keepLogsOnFailure(t, ip.net)
	ctx, cancel := context.WithTimeout(context.Background(), 85*time.Second)
	defer cancel()
	start := time.Now()
	steps, err := Seed(ctx, ip.net, 10*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	seeded := time.Now()
	var consultation string
	for _, s := range steps {
		if s.Name == ConsultationStep {
			consultation = s.ID
		}
	}
	if consultation == "" {
		t.Fatalf("no %s among the seeded steps %v", ConsultationStep, steps)
	}
	// Nothing is overdue yet (unless seeding itself took most of the window).
	if got := overdueGauge(t, ip.net.Nodes[0].RESTURL()); got != 0 && seeded.Sub(start) < ConsultationWithin/2 {
		t.Fatalf("right after seeding (%s) %v obligations are overdue already", seeded.Sub(start).Round(time.Millisecond), got)
	}
	// The third state ("origin") is the one asked, and never answers.
	id := ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_RESPOND, consultation, "xcc")
	var overdueAt int64
	for {
		res, err := ip.clients[0].Obligation(ctx, id, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		if s := res.Obligation.GetStatus(); s == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE {
			overdueAt = res.Height
			break
		} else if s != pb.ObligationStatus_OBLIGATION_STATUS_OPEN {
			t.Fatalf("obligation %s is %s", id, s)
		}
		if time.Since(seeded) > time.Minute {
			t.Fatalf("obligation %s not overdue a minute after seeding", id)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("seeded %d records in %s; the consultation's response overdue %s after seeding began",
		len(steps), seeded.Sub(start).Round(time.Millisecond), time.Since(start).Round(time.Second))
	// Another node, at the height node0 answered at (it may be a block
	// behind: wait for it to get there).
	var list *pb.ListObligationsResponse
	for {
		list, err = ip.clients[1].Obligations(ctx, &pb.ListObligationsRequest{Status: "overdue", Height: overdueAt})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("node1 at height %d: %v", overdueAt, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	found := false
	for _, o := range list.Obligations {
		found = found || o.Id == id
	}
	if !found {
		t.Fatalf("overdue listing of node1 lacks %s: %v", id, list.Obligations)
	}
	// Each node's metrics count it (at their newest state, at or after what the API read).
	for _, n := range ip.net.Nodes {
		if got := overdueGauge(t, n.RESTURL()); got < 1 {
			t.Fatalf("%s reports %v overdue obligations", n.Name, got)
		}
	}
}
