package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantform/tenantform/metrics"
)

// The API labels its request metrics with the route template (never the
// raw path, which holds tenant names) and counts 429s by user.
func TestRequestMetricsByRouteTemplate(t *testing.T) {
	t.Parallel()
	h := metrics.NewHTTP(100)
	e := newEnv(t, func(c *Config) {
		c.HTTPMetrics = h
		c.RateLimitPerSecond = 0.001
		c.RateLimitBurst = 1
	})
	alice := e.token("alice", false)
	e.do("GET", "/api/v1/users/alice/projects/demo", alice, nil).wantStatus(t, http.StatusNotFound)
	e.do("GET", "/api/v1/users/alice/projects/demo", alice, nil).wantStatus(t, http.StatusTooManyRequests)
	e.do("GET", "/no/such/path", "", nil).wantStatus(t, http.StatusNotFound)
	e.do("GET", "/healthz", "", nil).wantStatus(t, http.StatusOK)

	want := `
# HELP tenantform_http_rate_limited_requests_total API requests refused with 429 by the per-user rate limit, by user (past METRICS_MAX_SERIES users: "_other").
# TYPE tenantform_http_rate_limited_requests_total counter
tenantform_http_rate_limited_requests_total{user="alice"} 1
# HELP tenantform_http_requests_total API requests answered, by route template, method and status code.
# TYPE tenantform_http_requests_total counter
tenantform_http_requests_total{code="200",method="GET",route="/healthz"} 1
tenantform_http_requests_total{code="404",method="GET",route="/api/v1/users/{userId}/projects/{projectId}"} 1
tenantform_http_requests_total{code="404",method="GET",route="unmatched"} 1
tenantform_http_requests_total{code="429",method="GET",route="/api/v1/users/{userId}/projects/{projectId}"} 1
`
	if err := testutil.CollectAndCompare(h, strings.NewReader(want),
		"tenantform_http_requests_total", "tenantform_http_rate_limited_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(h, "tenantform_http_request_duration_seconds"); n != 3 {
		t.Errorf("%d duration series, want 3 (one per route template and method)", n)
	}
}
