package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// The witness's /metrics: cosignatures and the size it trusts move with a
// cosigned checkpoint, refusals are counted by reason, and in follow
// mode the size each node serves is there to compare.
func TestWitnessMetrics(t *testing.T) {
	tl := newTestLog(t, "log")
	w := newWitness(t, t.TempDir(), tl)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	ms := httptest.NewServer(w.MetricsHandler())
	defer ms.Close()

	m := scrapeWitness(t, ms.URL)
	for _, name := range MetricNames {
		if name != MetricCheckpointSize && name != MetricFollowErrors && name != MetricLastCosigned && m[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	check := func(m map[string]*dto.MetricFamily, when, name string, labels map[string]string, want float64) {
		t.Helper()
		if got := seriesValue(t, m, name, labels); got != want {
			t.Errorf("%s: %s%v = %v, want %v", when, name, labels, got, want)
		}
	}
	o := map[string]string{"origin": origin}
	check(m, "at start", MetricCosigned, o, 0)
	check(m, "at start", MetricCosignedSize, o, 0)
	check(m, "at start", MetricRefused, map[string]string{"origin": origin, "reason": ReasonInconsistent}, 0)
	check(m, "at start", MetricBuildInfo, map[string]string{"version": "unknown"}, 1)

	tl.add("a", "b", "c")
	if code, out := post(t, srv.URL, addCheckpointBody(0, nil, tl.checkpoint())); code != 200 {
		t.Fatalf("cosign: %d %s", code, out)
	}
	m = scrapeWitness(t, ms.URL)
	check(m, "after a cosignature", MetricCosigned, o, 1)
	check(m, "after a cosignature", MetricCosignedSize, o, 3)
	if got := seriesValue(t, m, MetricLastCosigned, o); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last cosigned at %v", got)
	}

	// Refusals, one of each reason.
	fork := newTestLog(t, "log")
	fork.add("a", "b", "X", "Y")
	other := newTestLog(t, "another key")
	other.add("a", "b", "c", "d")
	sameSizeFork := newTestLog(t, "log")
	sameSizeFork.add("a", "b", "Z")
	tl.add("d")
	for _, body := range [][]byte{
		addCheckpointBody(3, fork.proof(3), fork.checkpoint()),                                                            // inconsistent
		addCheckpointBody(3, nil, sameSizeFork.checkpoint()),                                                              // inconsistent: another root at size 3
		addCheckpointBody(3, other.proof(3), other.checkpoint()),                                                          // unsigned
		addCheckpointBody(1, nil, tl.checkpoint()),                                                                        // stale
		bytes.Replace(tl.checkpoint(), []byte(origin), []byte("x/y"), 1),                                                  // malformed (no old line)
		addCheckpointBody(3, tl.proof(3), bytes.Replace(tl.checkpoint(), []byte(origin), []byte("example.org/other"), 1)), // unknown origin
	} {
		if code, _ := post(t, srv.URL, body); code == 200 {
			t.Fatal("a bad checkpoint was cosigned")
		}
	}
	m = scrapeWitness(t, ms.URL)
	for reason, want := range map[string]float64{ReasonInconsistent: 2, ReasonUnsigned: 1, ReasonStale: 1, ReasonMalformed: 0, ReasonInternal: 0} {
		check(m, "after refusals", MetricRefused, map[string]string{"origin": origin, "reason": reason}, want)
	}
	check(m, "after refusals", MetricRefused, map[string]string{"origin": "", "reason": ReasonMalformed}, 1)
	check(m, "after refusals", MetricRefused, map[string]string{"origin": "", "reason": ReasonUnknownOrigin}, 1)
	check(m, "after refusals", MetricCosignedSize, o, 3)

	// Follow mode: a node serving size 4 is fetched, cosigned, delivered.
	var delivered atomic.Bool
	node := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/tlog/checkpoint":
			rw.Write(tl.checkpoint())
		case r.Method == http.MethodGet && r.URL.Path == "/v1/log/consistency":
			first, _ := strconv.ParseUint(r.URL.Query().Get("first"), 10, 64)
			var hs []string
			for _, h := range tl.proof(first) {
				hs = append(hs, base64.StdEncoding.EncodeToString(h))
			}
			json.NewEncoder(rw).Encode(map[string]any{"hashes": hs})
		case r.Method == http.MethodPost && r.URL.Path == "/tlog/cosignature":
			delivered.Store(true)
		default:
			http.NotFound(rw, r)
		}
	}))
	defer node.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Follow(ctx, origin, []string{node.URL}, 20*time.Millisecond); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for !delivered.Load() || seriesValue(t, scrapeWitness(t, ms.URL), MetricCosignedSize, o) != 4 {
		if time.Now().After(deadline) {
			t.Fatal("follow mode did not cosign size 4")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	m = scrapeWitness(t, ms.URL)
	n := map[string]string{"origin": origin, "node": node.URL}
	check(m, "following", MetricCheckpointSize, n, 4)
	check(m, "following", MetricFollowErrors, n, 0)
	check(m, "following", MetricCosigned, o, 2)
}

func scrapeWitness(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// seriesValue is the value of the one series of family name whose labels
// are labels (a label absent counts as "").
func seriesValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	var found []float64
	for _, m := range fams[name].GetMetric() {
		ok := true
		for k, v := range labels {
			have := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == k {
					have = l.GetValue()
				}
			}
			ok = ok && have == v
		}
		if !ok {
			continue
		}
		if m.GetCounter() != nil {
			found = append(found, m.GetCounter().GetValue())
		} else {
			found = append(found, m.GetGauge().GetValue())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d series", name, labels, len(found))
	}
	return found[0]
}
