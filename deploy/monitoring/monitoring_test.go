package monitoring_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/normledger/normledger/monitor"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/witness"
)

const (
	rulesFile = "normledger-alerts.yml"
	testsFile = "normledger-alerts_test.yml"
	config    = "prometheus.yml"
)

// promtool is Debian's prometheus package's rule checker; without it the
// test skips, unless NORMLEDGER_REQUIRE_OPS=1 (CI installs it).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("NORMLEDGER_REQUIRE_OPS") == "1" {
			t.Fatal("promtool is not installed (apt-get install prometheus)")
		}
		t.Skip("promtool is not installed (apt-get install prometheus; NORMLEDGER_REQUIRE_OPS=1 makes this a failure)")
	}
	return p
}

// The alert rules are valid, their unit tests pass, and the example
// configuration loads them.
func TestPromtool(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		{"test", "rules", testsFile},
		{"check", "config", config},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.Join(strings.Fields(string(out)), " "))
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert, Expr string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name        string
		InputSeries []struct {
			Series string
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			Alertname string
			ExpAlerts []any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	}
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	bz, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(bz, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// Every alert has a severity, a summary and a description, and the unit
// tests make each one fire and each one stay silent at least once.
func TestAlertRulesCovered(t *testing.T) {
	var rules ruleFile
	var tests testFile
	readYAML(t, rulesFile, &rules)
	readYAML(t, testsFile, &tests)
	if !slices.Equal(tests.RuleFiles, []string{rulesFile}) {
		t.Errorf("%s tests %v, want [%s]", testsFile, tests.RuleFiles, rulesFile)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s has a rule that is no alert: %q", g.Name, r.Expr)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("two alerts named %s", r.Alert)
			}
			seen[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s lacks a summary or a description", r.Alert)
			}
			if !fires[r.Alert] {
				t.Errorf("no test makes %s fire", r.Alert)
			}
			if !silent[r.Alert] {
				t.Errorf("no test checks that %s stays silent", r.Alert)
			}
		}
	}
	for name := range fires {
		if !seen[name] {
			t.Errorf("%s tests an alert %s that %s does not have", testsFile, name, rulesFile)
		}
	}
	if len(seen) < 20 {
		t.Errorf("only %d alerts", len(seen))
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

// knownMetrics are the metric families that exist: the node's ledger
// metrics, its REST and gRPC metrics and build info (node/api, read from
// the source: the names are unexported there), CometBFT's instrumentation,
// the monitor's and the witness's, and the process collector's.
func knownMetrics(t *testing.T) descNames {
	t.Helper()
	known := descNames{}
	for _, n := range node.LedgerMetricNames {
		known[n] = true
	}
	for _, n := range monitor.MetricNames {
		known[n] = true
	}
	for _, n := range witness.MetricNames {
		known[n] = true
	}
	apiFiles, err := filepath.Glob("../../node/api/*.go")
	if err != nil || len(apiFiles) == 0 {
		t.Fatalf("node/api sources: %v", err)
	}
	opts := regexp.MustCompile(`Namespace:\s*"normledger",\s*(?:Subsystem:\s*"(\w+)",\s*)?Name:\s*"(\w+)"`)
	api := 0
	for _, f := range apiFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range opts.FindAllStringSubmatch(string(src), -1) {
			name := "normledger_" + m[2]
			if m[1] != "" {
				name = "normledger_" + m[1] + "_" + m[2]
			}
			known[name] = true
			api++
		}
	}
	if !known["normledger_api_requests_total"] {
		t.Fatalf("the REST metrics were not found in node/api (%d names)", api)
	}
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = known
	ic := cmtcfg.DefaultInstrumentationConfig()
	ic.Prometheus = true
	cmtnode.DefaultMetricsProvider(ic)("alerts-test")
	prometheus.DefaultRegisterer = saved
	if !known["cometbft_consensus_height"] {
		t.Fatal("CometBFT metric names not captured")
	}
	// The process collector's, which the node, the monitor and the
	// witness all register.
	for _, n := range []string{"process_open_fds", "process_max_fds", "up"} {
		known[n] = true
	}
	return known
}

// has says whether name is a known family's, or a histogram's _bucket,
// _sum or _count series of one.
func (d descNames) has(name string) bool {
	if d[name] {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, suf); ok && d[b] {
			return true
		}
	}
	return false
}

var metricName = regexp.MustCompile(`\b(?:normledger|cometbft|process|go)_[a-z0-9_]+\b|\bup\b`)

// The rules and their tests name only metrics that exist (histograms by
// their _bucket, _sum and _count series), so that no alert waits on a
// series that never comes; and the rules cover each component.
func TestAlertMetricNames(t *testing.T) {
	known := knownMetrics(t)
	exists := known.has
	var rules ruleFile
	var tests testFile
	readYAML(t, rulesFile, &rules)
	readYAML(t, testsFile, &tests)
	used := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			// Label values ("up" in a summary) are not metrics: strip strings.
			expr := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(r.Expr, `""`)
			for _, name := range metricName.FindAllString(expr, -1) {
				used[name] = true
				if !exists(name) {
					t.Errorf("%s uses %s, which nothing exports", r.Alert, name)
				}
			}
		}
	}
	for _, tc := range tests.Tests {
		for _, s := range tc.InputSeries {
			name, _, _ := strings.Cut(s.Series, "{")
			if !exists(name) {
				t.Errorf("test %q feeds %s, which nothing exports", tc.Name, name)
			}
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, prefix := range []string{"normledger_ledger_", "normledger_api_", "normledger_grpc_", "cometbft_consensus_", "cometbft_p2p_",
		"cometbft_blocksync_", "normledger_monitor_", "normledger_witness_"} {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, prefix) }) {
			t.Errorf("no alert on any %s* metric (used: %v)", prefix, names)
		}
	}
}
