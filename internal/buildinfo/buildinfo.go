// Package buildinfo is normledger_build_info, the gauge every normledger
// process that serves metrics exports (the node, the monitor, the witness):
// always 1, its labels name the running build.
package buildinfo

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricName is the gauge's name.
const MetricName = "normledger_build_info"

// Collector is normledger_build_info{version,revision,go_version} 1: the
// version the process reports ("unknown" when empty), the VCS revision it
// was built from ("unknown" when the build stamped none, as release builds
// with -buildvcs=false do) and the Go version.
func Collector(version string) prometheus.Collector {
	revision, goVersion := "unknown", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				revision = s.Value
			}
		}
	}
	if version == "" {
		version = "unknown"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricName,
		Help:        "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "go_version": goVersion}})
	g.Set(1)
	return g
}
