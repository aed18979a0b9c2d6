package aws

import (
	"github.com/prometheus/client_golang/prometheus"
)

// inventoryMetrics are the refresher's Prometheus series.
type inventoryMetrics struct {
	listings  *prometheus.CounterVec
	failures  *prometheus.CounterVec
	resources *prometheus.GaugeVec
	duration  *prometheus.HistogramVec
}

func newInventoryMetrics(reg prometheus.Registerer, regions []string) *inventoryMetrics {
	m := &inventoryMetrics{
		listings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_aws_inventory_listings_total",
			Help: "Tagged-inventory listings (GetResources, all pages) attempted, per region.",
		}, []string{"region"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_aws_inventory_listing_failures_total",
			Help: "Tagged-inventory listings that failed (the region keeps its previous snapshot), per region.",
		}, []string{"region"}),
		resources: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tenantform_aws_inventory_resources",
			Help: "Resources tagged ManagedBy=chart-app-platform in the last listing, per region.",
		}, []string{"region"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantform_aws_inventory_listing_duration_seconds",
			Help:    "Time to list and store one region's tagged inventory.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}, []string{"region"}),
	}
	// Known label values are exported from the start (at 0), so that a
	// region that was never listed shows as such rather than as no data.
	for _, r := range regions {
		m.listings.WithLabelValues(r)
		m.failures.WithLabelValues(r)
		m.resources.WithLabelValues(r)
		m.duration.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.listings, m.failures, m.resources, m.duration)
	}
	return m
}

// credentialMetrics are the credentials source's Prometheus series.
type credentialMetrics struct {
	calls    prometheus.Counter
	failures *prometheus.CounterVec
}

func newCredentialMetrics(reg prometheus.Registerer) *credentialMetrics {
	m := &credentialMetrics{
		calls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantform_aws_assume_role_total",
			Help: "STS AssumeRole calls made for tenant projects (cached credentials make none).",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_aws_assume_role_failures_total",
			Help: "STS AssumeRole calls that failed, by reason: denied (terminal), throttled, error.",
		}, []string{"reason"}),
	}
	for _, r := range []string{"denied", "throttled", "error"} {
		m.failures.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.failures)
	}
	return m
}

func (m *credentialMetrics) failed(err error) {
	switch {
	case IsDenied(err):
		m.failures.WithLabelValues("denied").Inc()
	case IsThrottled(err):
		m.failures.WithLabelValues("throttled").Inc()
	default:
		m.failures.WithLabelValues("error").Inc()
	}
}

// orphanMetrics are the orphan sweep's Prometheus series.
type orphanMetrics struct {
	orphans     prometheus.Gauge
	deletions   prometheus.Counter
	deleted     prometheus.Counter
	alreadyGone prometheus.Counter
	failures    prometheus.Counter
}

func newOrphanMetrics(reg prometheus.Registerer) *orphanMetrics {
	m := &orphanMetrics{
		orphans: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantform_aws_orphans",
			Help: "Tagged resources whose project has no live row, at the last sweep.",
		}),
		deletions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantform_aws_orphan_deletions_total",
			Help: "Deletions of tagged resources attempted (orphans with ORPHAN_CLEANUP=delete, unadopted strays).",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantform_aws_orphans_deleted_total",
			Help: "Tagged resources a deletion removed (each counted once: a deletion that found it gone is not).",
		}),
		alreadyGone: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantform_aws_orphans_already_gone_total",
			Help: "Tagged resources about to be deleted that were already gone (removed by their owner or another replica).",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantform_aws_orphan_deletion_failures_total",
			Help: "Deletions of tagged resources that failed (retried at the next sweep).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.orphans, m.deletions, m.deleted, m.alreadyGone, m.failures)
	}
	return m
}
