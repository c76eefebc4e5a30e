// Package monitoring holds the Prometheus and Grafana files an operator
// installs (README.md): alert rules (normledger-alerts.yml) with their
// promtool unit tests (normledger-alerts_test.yml), an example Prometheus
// configuration (prometheus.yml) and the Grafana dashboard
// (grafana-dashboard.json). It has no code; its tests run promtool on the
// files and check that every metric they name is one the node, CometBFT,
// the monitor or the witness exports.
package monitoring
