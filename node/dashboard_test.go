package node_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/normledger/normledger/node"
)

// exprs collects every "expr" string in a decoded dashboard.
func exprs(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "expr" {
				*out = append(*out, s)
				continue
			}
			exprs(e, out)
		}
	case []any:
		for _, e := range x {
			exprs(e, out)
		}
	}
}

// descNames captures the metric names collectors register (CometBFT's
// go-kit metrics register in the default registerer when made).
type descNames map[string]bool

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d descNames) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d[m[1]] = true
		}
	}
	return nil
}

func (d descNames) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		d.Register(c)
	}
}

func (d descNames) Unregister(prometheus.Collector) bool { return true }

// cometMetricNames are the metric families CometBFT's instrumentation
// exports (namespace "cometbft", as the testnet and the default config have it).
func cometMetricNames() map[string]bool {
	names := descNames{}
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = names
	defer func() { prometheus.DefaultRegisterer = saved }()
	ic := cmtcfg.DefaultInstrumentationConfig()
	ic.Prometheus = true
	cmtnode.DefaultMetricsProvider(ic)("dashboard-test")
	return names
}

// docs/grafana-dashboard.json is valid JSON, takes its data source from a
// variable, and queries only metrics that exist: every normledger_ one is
// a ledger metric the node exports (node/metrics.go), every cometbft_ one
// is in CometBFT's instrumentation.
func TestGrafanaDashboard(t *testing.T) {
	bz, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(bz, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	var dsVar string
	for _, v := range dash["templating"].(map[string]any)["list"].([]any) {
		if v := v.(map[string]any); v["type"] == "datasource" && v["query"] == "prometheus" {
			dsVar = "${" + v["name"].(string) + "}"
		}
	}
	if dsVar == "" {
		t.Fatal("no Prometheus data source variable")
	}
	for _, p := range dash["panels"].([]any) {
		p := p.(map[string]any)
		if p["type"] == "row" {
			continue
		}
		if ds, _ := p["datasource"].(map[string]any); ds == nil || ds["uid"] != dsVar {
			t.Errorf("panel %q: data source %v, want the variable %s", p["title"], p["datasource"], dsVar)
		}
	}
	var all []string
	exprs(dash, &all)
	if len(all) == 0 {
		t.Fatal("no queries")
	}
	ledger := map[string]bool{}
	for _, n := range node.LedgerMetricNames {
		ledger[n] = true
	}
	comet := cometMetricNames()
	if !comet["cometbft_consensus_height"] {
		t.Fatalf("CometBFT metric names not captured: %v", comet)
	}
	family := func(name string, known map[string]bool) bool {
		if known[name] {
			return true
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suf); ok && known[b] {
				return true
			}
		}
		return false
	}
	used := map[string]bool{}
	for _, e := range all {
		for _, name := range regexp.MustCompile(`\b(normledger|cometbft)_[a-z0-9_]+`).FindAllString(e, -1) {
			used[name] = true
			switch {
			case strings.HasPrefix(name, "normledger_") && !family(name, ledger):
				t.Errorf("the dashboard queries %s, which the node does not export (%s)", name, e)
			case strings.HasPrefix(name, "cometbft_") && !family(name, comet):
				t.Errorf("the dashboard queries %s, which CometBFT does not export (%s)", name, e)
			}
		}
	}
	for _, want := range []string{node.MetricRecords, node.MetricObligations, node.MetricOverdueObligations,
		"cometbft_consensus_height", "cometbft_consensus_validators", "cometbft_mempool_size"} {
		if !used[want] {
			t.Errorf("the dashboard has no panel on %s", want)
		}
	}
}
