// Package metrics owns tenantform's Prometheus metrics: the state collector
// that derives tenant figures (projects by phase, resources and quota per
// user, cost per project, expiry, run counts) from PostgreSQL at scrape
// time, the reconciler's and the API's process metrics, the AWS call
// counters, build information, and Handler, which serves /metrics: a
// registry's collectors gathered at each scrape, and the state collector's
// families built once per reading of the database.
//
// Every name starts with tenantform_, uses base units and ends counters in
// _total. Per-tenant series are bounded by a cap (METRICS_MAX_SERIES): past
// it, the rest is summed under the label value "_other", so a large
// platform cannot blow up Prometheus.
package metrics
