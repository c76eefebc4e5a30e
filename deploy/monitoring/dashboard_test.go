package monitoring_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

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

// grafana-dashboard.json is valid JSON, takes its data source from a
// variable, and queries only metrics that exist (the same set the alert
// rules are checked against: the node's, CometBFT's, the monitor's and the
// witness's), with a panel on the figures operators look at first.
func TestGrafanaDashboard(t *testing.T) {
	bz, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(bz, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
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
	known := knownMetrics(t)
	used := map[string]bool{}
	for _, e := range all {
		for _, name := range regexp.MustCompile(`\b(normledger|cometbft)_[a-z0-9_]+`).FindAllString(e, -1) {
			used[name] = true
			if !known.has(name) {
				what := "the node"
				if strings.HasPrefix(name, "cometbft_") {
					what = "CometBFT"
				}
				t.Errorf("the dashboard queries %s, which %s does not export (%s)", name, what, e)
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
