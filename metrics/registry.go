package metrics

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a process's registry: the Go runtime and process
// collectors, tenantform_build_info for version, and cs (the API's or the
// reconciler's metrics; the state collector is given to Handler instead). A registry of our own
// rather than the global default keeps what is exported explicit.
func NewRegistry(version string, cs ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		NewBuildInfo(version),
	)
	reg.MustRegister(cs...)
	return reg
}

// NewBuildInfo is tenantform_build_info: always 1, with the version and
// the Go release as labels, so dashboards can show what runs where.
func NewBuildInfo(version string) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "tenantform_build_info",
		Help:        "Always 1; the labels say which tenantform build runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	}, func() float64 { return 1 })
}
