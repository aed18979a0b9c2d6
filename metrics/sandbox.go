package metrics

import "github.com/prometheus/client_golang/prometheus"

// NewSandbox is tenantform_sandbox_active: 1 when every terraform and
// provider process of this reconciler runs under the Landlock sandbox, 0
// when it runs without (TF_SANDBOX=off, or auto on a kernel without
// Landlock). An alert on 0 in production catches a host that lost it.
func NewSandbox(active bool) prometheus.Collector {
	v := 0.0
	if active {
		v = 1
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tenantform_sandbox_active",
		Help: "1 when terraform and its providers run under the Landlock sandbox (TF_SANDBOX), else 0.",
	}, func() float64 { return v })
}
