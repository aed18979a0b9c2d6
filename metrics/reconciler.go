package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reconcile results, the values of tenantform_reconciles_total's result
// label. Anything else is counted as ResultOther, so a new code path can
// never add unbounded series.
const (
	// ResultSuccess: the pass finished without error (converged, or
	// progressed and scheduled its next look).
	ResultSuccess = "success"
	// ResultError: a retryable failure; the project backs off.
	ResultError = "error"
	// ResultTerminal: the spec cannot be applied; the project waits for a
	// new generation.
	ResultTerminal = "terminal"
	// ResultLeaseLost: another reconciler took the project over mid-pass.
	ResultLeaseLost = "lease_lost"
	ResultOther     = "other"
)

var reconcileResults = []string{ResultSuccess, ResultError, ResultTerminal, ResultLeaseLost, ResultOther}

// Results of one project's comparison with the tagged AWS inventory, the
// values of tenantform_inventory_comparisons_total's result label.
const (
	// ComparisonInSync: the inventory shows exactly the project's state.
	ComparisonInSync = "in_sync"
	// ComparisonDrift: a resource of the state is gone or re-tagged.
	ComparisonDrift = "drift"
	// ComparisonStrays: no drift, but resources tagged with the project
	// are not in its state.
	ComparisonStrays = "strays"
	// ComparisonStale: no listing newer than the project's last run.
	ComparisonStale = "stale"
	// ComparisonError: the state or the inventory could not be read.
	ComparisonError = "error"
)

var comparisonResults = []string{ComparisonInSync, ComparisonDrift, ComparisonStrays, ComparisonStale, ComparisonError}

// Terraform operations timed by ObserveTerraform; others count as "other".
var terraformOperations = []string{"init", "plan", "apply", "destroy", "show", "other"}

// Reconciler holds the reconciler's process metrics. Its methods are the
// hooks the controller calls; all are safe for concurrent use, and a nil
// *Reconciler ignores them (tests need not build one). Register it on the
// reconciler's registry (it is a prometheus.Collector).
type Reconciler struct {
	reconciles    *prometheus.CounterVec
	duration      prometheus.Histogram
	terraform     *prometheus.HistogramVec
	startLatency  prometheus.Histogram
	leasesHeld    prometheus.Gauge
	lastReconcile prometheus.Gauge
	comparisons   *prometheus.CounterVec
	now           func() time.Time
}

// NewReconciler returns the reconciler metrics, every known label value at 0.
// now is the clock of tenantform_reconciler_last_reconcile_timestamp_seconds
// (nil: time.Now).
func NewReconciler(now func() time.Time) *Reconciler {
	if now == nil {
		now = time.Now
	}
	r := &Reconciler{
		now: now,
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_reconciles_total",
			Help: "Reconcile passes finished, by result (success, error, terminal, lease_lost, other).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tenantform_reconcile_duration_seconds",
			Help:    "Duration of one reconcile pass, terraform included.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		terraform: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantform_terraform_operation_duration_seconds",
			Help:    "Duration of terraform commands run by the reconciler, by operation.",
			Buckets: []float64{.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600},
		}, []string{"operation"}),
		startLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tenantform_reconcile_start_latency_seconds",
			Help:    "Time from a client's write (or a project falling due) to the start of the reconcile pass that handles it.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 600},
		}),
		leasesHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantform_leases_held",
			Help: "Project leases this reconciler holds now.",
		}),
		lastReconcile: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantform_reconciler_last_reconcile_timestamp_seconds",
			Help: "Unix time at which this reconciler last finished a pass (0: never).",
		}),
		comparisons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_inventory_comparisons_total",
			Help: "Ready projects' states compared with the tagged AWS inventory (no terraform process), by result (in_sync, drift, strays, stale, error).",
		}, []string{"result"}),
	}
	for _, res := range comparisonResults {
		r.comparisons.WithLabelValues(res)
	}
	for _, res := range reconcileResults {
		r.reconciles.WithLabelValues(res)
	}
	for _, op := range terraformOperations {
		r.terraform.WithLabelValues(op)
	}
	return r
}

// ObserveReconcile records one finished pass: its result (one of the
// Result constants) and how long it took.
func (r *Reconciler) ObserveReconcile(result string, d time.Duration) {
	if r == nil {
		return
	}
	if !slices.Contains(reconcileResults, result) {
		result = ResultOther
	}
	r.reconciles.WithLabelValues(result).Inc()
	r.duration.Observe(d.Seconds())
	r.lastReconcile.Set(float64(r.now().UnixNano()) / 1e9)
}

// ObserveTerraform records one terraform command (init, plan, apply,
// destroy, show) and its duration.
func (r *Reconciler) ObserveTerraform(op string, d time.Duration) {
	if r == nil {
		return
	}
	if !slices.Contains(terraformOperations, op) {
		op = "other"
	}
	r.terraform.WithLabelValues(op).Observe(d.Seconds())
}

// ObserveStartLatency records the wait between writtenAt (the project's
// last client write, or when it fell due if later) and startedAt, when a
// reconciler claimed it. A negative wait (clock skew) counts as 0.
func (r *Reconciler) ObserveStartLatency(writtenAt, startedAt time.Time) {
	if r == nil {
		return
	}
	d := startedAt.Sub(writtenAt)
	if d < 0 {
		d = 0
	}
	r.startLatency.Observe(d.Seconds())
}

// ObserveInventoryComparison records one comparison of a project's state
// with the tagged inventory: its result (one of the Comparison constants;
// anything else counts as an error).
func (r *Reconciler) ObserveInventoryComparison(result string) {
	if r == nil {
		return
	}
	if !slices.Contains(comparisonResults, result) {
		result = ComparisonError
	}
	r.comparisons.WithLabelValues(result).Inc()
}

// SetLeasesHeld reports how many project leases this process holds.
func (r *Reconciler) SetLeasesHeld(n int) {
	if r != nil {
		r.leasesHeld.Set(float64(n))
	}
}

// Describe implements prometheus.Collector.
func (r *Reconciler) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range r.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (r *Reconciler) Collect(ch chan<- prometheus.Metric) {
	for _, c := range r.collectors() {
		c.Collect(ch)
	}
}

func (r *Reconciler) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.reconciles, r.duration, r.terraform, r.startLatency, r.leasesHeld, r.lastReconcile, r.comparisons}
}
