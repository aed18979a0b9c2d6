package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantform/tenantform/metrics"
)

func TestSandboxGauge(t *testing.T) {
	for active, want := range map[bool]string{true: "tenantform_sandbox_active 1", false: "tenantform_sandbox_active 0"} {
		c := metrics.NewSandbox(active)
		exp := "# HELP tenantform_sandbox_active 1 when terraform and its providers run under the Landlock sandbox (TF_SANDBOX), else 0.\n# TYPE tenantform_sandbox_active gauge\n" + want + "\n"
		if err := testutil.CollectAndCompare(c, strings.NewReader(exp)); err != nil {
			t.Errorf("active=%v: %v", active, err)
		}
	}
}
