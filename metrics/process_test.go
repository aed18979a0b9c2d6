package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantform/tenantform/metrics"
)

func TestReconcilerHooks(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	r := metrics.NewReconciler(func() time.Time { return at })
	// Every known result is there at 0 before anything happens.
	if n := testutil.CollectAndCount(r, "tenantform_reconciles_total"); n != 5 {
		t.Fatalf("%d result series at start, want 5", n)
	}
	r.ObserveReconcile(metrics.ResultError, 3*time.Second)
	r.ObserveReconcile("a-new-code-path", time.Second)
	r.ObserveTerraform("plan", 12*time.Second)
	r.ObserveTerraform("import", time.Second)
	r.ObserveStartLatency(at, at.Add(-time.Second)) // skew: counts as 0
	r.SetLeasesHeld(2)
	want := `
# HELP tenantform_reconciles_total Reconcile passes finished, by result (success, error, terminal, lease_lost, other).
# TYPE tenantform_reconciles_total counter
tenantform_reconciles_total{result="error"} 1
tenantform_reconciles_total{result="lease_lost"} 0
tenantform_reconciles_total{result="other"} 1
tenantform_reconciles_total{result="success"} 0
tenantform_reconciles_total{result="terminal"} 0
# HELP tenantform_leases_held Project leases this reconciler holds now.
# TYPE tenantform_leases_held gauge
tenantform_leases_held 2
# HELP tenantform_reconciler_last_reconcile_timestamp_seconds Unix time at which this reconciler last finished a pass (0: never).
# TYPE tenantform_reconciler_last_reconcile_timestamp_seconds gauge
tenantform_reconciler_last_reconcile_timestamp_seconds 1.893553445e+09
`
	if err := testutil.CollectAndCompare(r, strings.NewReader(want), "tenantform_reconciles_total",
		"tenantform_leases_held", "tenantform_reconciler_last_reconcile_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	got := gather(t, metrics.NewRegistry("t", r))
	for k, v := range map[string]float64{
		`tenantform_terraform_operation_duration_seconds{operation="plan"}`:  1,
		`tenantform_terraform_operation_duration_seconds{operation="other"}`: 1,
		`tenantform_reconcile_duration_seconds`:                              2,
		`tenantform_reconcile_start_latency_seconds`:                         1,
	} {
		if got[k] != v {
			t.Errorf("%s count = %v, want %v", k, got[k], v)
		}
	}
}

func TestNilReconcilerIgnoresHooks(t *testing.T) {
	t.Parallel()
	var r *metrics.Reconciler
	r.ObserveReconcile(metrics.ResultSuccess, time.Second)
	r.ObserveTerraform("plan", time.Second)
	r.ObserveStartLatency(time.Now(), time.Now())
	r.SetLeasesHeld(1)
}

func TestRateLimitedUsersAreCapped(t *testing.T) {
	t.Parallel()
	h := metrics.NewHTTP(3)
	srv := httptest.NewServer(h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.SetRoute(r.Context(), "/r")
		metrics.SetUser(r.Context(), r.URL.Query().Get("u"))
		w.WriteHeader(http.StatusTooManyRequests)
	})))
	defer srv.Close()
	for _, u := range []string{"a", "b", "c", "d", "a", "e"} {
		resp, err := srv.Client().Get(srv.URL + "/?u=" + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := `
# HELP tenantform_http_rate_limited_requests_total API requests refused with 429 by the per-user rate limit, by user (past METRICS_MAX_SERIES users: "_other").
# TYPE tenantform_http_rate_limited_requests_total counter
tenantform_http_rate_limited_requests_total{user="_other"} 3
tenantform_http_rate_limited_requests_total{user="a"} 2
tenantform_http_rate_limited_requests_total{user="b"} 1
`
	if err := testutil.CollectAndCompare(h, strings.NewReader(want), "tenantform_http_rate_limited_requests_total"); err != nil {
		t.Error(err)
	}
}
