package metrics

import "github.com/prometheus/client_golang/prometheus"

// AWS counts the reconciler's own AWS calls. The AWS package calls these
// hooks through a small interface of its own; all are safe for concurrent
// use and a nil *AWS ignores them.
type AWS struct {
	stsCalls     *prometheus.CounterVec
	stsHits      prometheus.Counter
	taggingCalls *prometheus.CounterVec
}

// NewAWS returns the AWS call counters, both results at 0.
func NewAWS() *AWS {
	a := &AWS{
		stsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_aws_sts_assume_role_calls_total",
			Help: "sts:AssumeRole calls made for tenant credentials, by result (success, error).",
		}, []string{"result"}),
		stsHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantform_aws_sts_credential_cache_hits_total",
			Help: "Tenant credentials served from the cache instead of a new sts:AssumeRole call.",
		}),
		taggingCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_aws_tagging_calls_total",
			Help: "Resource Groups Tagging API calls (inventory of tagged resources), by result (success, error).",
		}, []string{"result"}),
	}
	for _, res := range []string{"success", "error"} {
		a.stsCalls.WithLabelValues(res)
		a.taggingCalls.WithLabelValues(res)
	}
	return a
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "success"
}

// ObserveSTSCall counts one sts:AssumeRole call and whether it failed.
func (a *AWS) ObserveSTSCall(err error) {
	if a != nil {
		a.stsCalls.WithLabelValues(result(err)).Inc()
	}
}

// ObserveSTSCacheHit counts credentials reused from the cache.
func (a *AWS) ObserveSTSCacheHit() {
	if a != nil {
		a.stsHits.Inc()
	}
}

// ObserveTaggingCall counts one Tagging API call (one page) and whether it
// failed.
func (a *AWS) ObserveTaggingCall(err error) {
	if a != nil {
		a.taggingCalls.WithLabelValues(result(err)).Inc()
	}
}

// Describe implements prometheus.Collector.
func (a *AWS) Describe(ch chan<- *prometheus.Desc) {
	a.stsCalls.Describe(ch)
	a.stsHits.Describe(ch)
	a.taggingCalls.Describe(ch)
}

// Collect implements prometheus.Collector.
func (a *AWS) Collect(ch chan<- prometheus.Metric) {
	a.stsCalls.Collect(ch)
	a.stsHits.Collect(ch)
	a.taggingCalls.Collect(ch)
}
