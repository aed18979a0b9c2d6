package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
)

// StateSource is the slice of *store.Store the state collector reads.
type StateSource interface {
	MetricsSnapshot(ctx context.Context, maxSeries, defaultMaxResources int, runsSince time.Time) (store.MetricsSnapshot, error)
}

// Inventory counts tagged AWS resources that no project accounts for. It is
// optional: until the AWS inventory is configured, the orphan families are
// described but not exported.
type Inventory interface {
	// ResourceCounts returns resources tagged for a project that no longer
	// exists (orphaned) and resources carrying tenantform's tags that match
	// no project's state (stray).
	ResourceCounts(ctx context.Context) (orphaned, stray int, err error)
}

// StateConfig configures the state collector.
type StateConfig struct {
	// MaxSeries caps per-user and per-project series (METRICS_MAX_SERIES).
	// Default DefaultMaxSeries.
	MaxSeries int
	// DefaultMaxResources is the resource quota of a user without an
	// override (MAX_RESOURCES_PER_USER). Default 10.
	DefaultMaxResources int
	// BudgetUSD is AWS_COST_BUDGET_LIMIT, exported next to the total so
	// alerts and panels compare the two; 0 means no budget.
	BudgetUSD float64
	// Timeout bounds the snapshot query, well inside Prometheus's scrape
	// timeout. Default 5 s.
	Timeout time.Duration
	// Inventory, when set, adds the orphaned and stray resource counts.
	Inventory Inventory
	// Logger reports failed snapshots. Nil logs nothing.
	Logger *zap.Logger
	// MaxAge, when positive, lets a scrape serve a reading of the
	// database at most this old (METRICS_STATE_MAX_AGE), refreshed in the
	// background (see reading), so that a scrape waits neither for the
	// snapshot query (hundreds of milliseconds at 10,000 projects) nor,
	// through Handler, for building and encoding the series of a reading
	// already served. Zero reads the database at every scrape.
	MaxAge time.Duration
}

// State is a prometheus.Collector computed from the database at scrape
// time: every process that registers it serves the same figures, and a
// scrape costs one query.
type State struct {
	src StateSource
	cfg StateConfig

	// readMu serializes readings of the database, which share the run
	// counts below; mu guards last and refreshing.
	readMu, mu sync.Mutex
	// settledRuns are the runs finished before runsSince, counted once:
	// each scrape reads only the runs finished since.
	settledRuns map[[2]string]int64
	runsSince   time.Time
	// last is the newest reading, served while younger than MaxAge;
	// refreshing is set while a background reading runs.
	last       *stateReading
	refreshing bool
	// now is the clock the age of a reading is measured with.
	now func() time.Time
	// events, when set (tests), is told each time a reading's families
	// are gathered, encoded or compressed for scrapes (exposition.go),
	// and when a reading in the background is stored ("refreshed").
	events func(event string)

	up, queryDuration                                     *prometheus.Desc
	projects                                              *prometheus.Desc
	projectCost, projectCeiling, projectTTL, projectReady *prometheus.Desc
	projectPhase, projectActual                           *prometheus.Desc
	userProjects, userResources, userQuota                *prometheus.Desc
	userCost, totalCost, budget                           *prometheus.Desc
	deployments, runs                                     *prometheus.Desc
	queueDepth, queueOldestWait                           *prometheus.Desc
	orphaned, stray, seriesCap                            *prometheus.Desc
	outboxPending, outboxFailing                          *prometheus.Desc
}

// NewState returns the state collector over src.
func NewState(src StateSource, cfg StateConfig) *State {
	if cfg.MaxSeries < 1 {
		cfg.MaxSeries = DefaultMaxSeries
	}
	if cfg.DefaultMaxResources < 1 {
		cfg.DefaultMaxResources = 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	up := []string{"user", "project"}
	u := []string{"user"}
	return &State{
		src: src, cfg: cfg, settledRuns: map[[2]string]int64{}, now: time.Now,
		up:             prometheus.NewDesc("tenantform_state_up", "1 if the reading this scrape serves read the database, 0 if its query failed (the other state families are then missing).", nil, nil),
		queryDuration:  prometheus.NewDesc("tenantform_state_query_duration_seconds", "How long the state query of the reading this scrape serves took.", nil, nil),
		projects:       prometheus.NewDesc("tenantform_projects", "Projects by phase.", []string{"phase"}, nil),
		projectCost:    prometheus.NewDesc("tenantform_project_estimated_monthly_cost_dollars", "Estimated monthly cost of a project (USD), past METRICS_MAX_SERIES summed into project=\"_other\".", up, nil),
		projectCeiling: prometheus.NewDesc("tenantform_project_max_monthly_cost_dollars", "A project's monthly cost ceiling (maxMonthlyCostUSD, USD), past the cap summed into \"_other\".", up, nil),
		projectTTL:     prometheus.NewDesc("tenantform_project_expiry_remaining_seconds", "Seconds until a project's time to live runs out (negative once expired); \"_other\" holds the soonest.", up, nil),
		projectReady:   prometheus.NewDesc("tenantform_project_ready", "1 if a project is in phase Ready, else 0; \"_other\" is 1 only when all it sums are Ready.", up, nil),
		projectPhase: prometheus.NewDesc("tenantform_project_phase",
			"1 for the phase a project is in (one series per project, kube-state-metrics style); project=\"_other\" counts the projects past METRICS_MAX_SERIES in each phase.",
			[]string{"user", "project", "phase"}, nil),
		projectActual: prometheus.NewDesc("tenantform_project_actual_month_to_date_cost_dollars",
			"What AWS charged a project this UTC month so far (USD, Cost Explorer by the Project tag); absent until Cost Explorer was asked this month; past the cap summed into \"_other\".",
			up, nil),
		userProjects:    prometheus.NewDesc("tenantform_user_projects", "Projects of a user, past the cap summed into user=\"_other\".", u, nil),
		userResources:   prometheus.NewDesc("tenantform_user_resources", "AWS resources held by a user's projects, past the cap summed into \"_other\".", u, nil),
		userQuota:       prometheus.NewDesc("tenantform_user_resource_quota", "A user's resource quota (override, else MAX_RESOURCES_PER_USER); \"_other\" holds the sum.", u, nil),
		userCost:        prometheus.NewDesc("tenantform_user_estimated_monthly_cost_dollars", "Estimated monthly cost of a user's projects (USD), past the cap summed into \"_other\".", u, nil),
		totalCost:       prometheus.NewDesc("tenantform_estimated_monthly_cost_dollars", "Estimated monthly cost of all projects together (USD).", nil, nil),
		budget:          prometheus.NewDesc("tenantform_cost_budget_dollars", "The monthly cost budget of all projects, AWS_COST_BUDGET_LIMIT (USD; 0: none).", nil, nil),
		deployments:     prometheus.NewDesc("tenantform_deployments_total", "Deployments by result (from the run history): succeeded applies, and failed plans plus failed applies.", []string{"result"}, nil),
		runs:            prometheus.NewDesc("tenantform_terraform_runs_total", "Finished terraform runs, by operation and result (from the run history).", []string{"operation", "result"}, nil),
		queueDepth:      prometheus.NewDesc("tenantform_reconcile_queue_depth", "Projects due for a reconcile that no reconciler holds.", nil, nil),
		queueOldestWait: prometheus.NewDesc("tenantform_reconcile_queue_oldest_wait_seconds", "How long the longest-waiting due, unclaimed project has waited (0 when none).", nil, nil),
		outboxPending:   prometheus.NewDesc("tenantform_notifications_pending", "Notifications not delivered yet, by channel (webhook, email).", []string{"channel"}, nil),
		outboxFailing:   prometheus.NewDesc("tenantform_notifications_failing", "Undelivered notifications whose last attempt failed, by channel.", []string{"channel"}, nil),
		orphaned:        prometheus.NewDesc("tenantform_orphaned_resources", "Tagged AWS resources whose project no longer exists.", nil, nil),
		stray:           prometheus.NewDesc("tenantform_stray_resources", "AWS resources with tenantform's tags that no project's state holds.", nil, nil),
		seriesCap:       prometheus.NewDesc("tenantform_metrics_max_series", "METRICS_MAX_SERIES: per-user and per-project series past it are summed into \"_other\".", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (s *State) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.up, s.queryDuration, s.projects, s.projectCost, s.projectCeiling,
		s.projectTTL, s.projectReady, s.projectPhase, s.projectActual, s.userProjects, s.userResources, s.userQuota, s.userCost, s.totalCost, s.budget,
		s.deployments, s.runs, s.queueDepth, s.queueOldestWait, s.orphaned, s.stray, s.seriesCap,
		s.outboxPending, s.outboxFailing} {
		ch <- d
	}
}

// Known label values, exported as 0 when absent so that rates and alerts
// see a series from the start.
var (
	runOperations = []string{store.OpPlan, store.OpApply, store.OpDestroy}
	runResults    = []string{store.OutcomeSucceeded, store.OutcomeFailed}
)

// stateReading is what one reading of the database gives the families:
// the snapshot, the run counters (settled runs added), the inventory's
// counts, and how it went.
type stateReading struct {
	at              time.Time
	queryDuration   time.Duration
	err             error
	snap            store.MetricsSnapshot
	runCounts       map[[2]string]int64
	inventoryErr    error
	orphaned, stray int
	// exposed is the reading's families as scrapes serve them, built
	// once (exposition.go).
	exposed exposedReading
}

// read queries the database once and moves the settled run counts on.
// The caller holds s.readMu.
func (s *State) read() *stateReading {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	r := &stateReading{at: s.now()}
	start := time.Now()
	snap, err := s.src.MetricsSnapshot(ctx, s.cfg.MaxSeries, s.cfg.DefaultMaxResources, s.runsSince)
	r.queryDuration = time.Since(start)
	if err != nil {
		s.cfg.Logger.Warn("cannot compute the state metrics", zap.Error(err))
		r.err = err
		return r
	}
	r.snap = snap
	r.runCounts = map[[2]string]int64{}
	for k, n := range s.settledRuns {
		r.runCounts[k] = n
	}
	for _, run := range snap.Runs {
		k := [2]string{run.Operation, run.Outcome}
		r.runCounts[k] += run.Count
		s.settledRuns[k] += run.Settled
	}
	s.runsSince = snap.SettledBefore
	if s.cfg.Inventory != nil {
		r.orphaned, r.stray, r.inventoryErr = s.cfg.Inventory.ResourceCounts(ctx)
		if r.inventoryErr != nil {
			s.cfg.Logger.Warn("cannot count orphaned resources", zap.Error(r.inventoryErr))
		}
	}
	return r
}

// reading is the reading a scrape serves. With MaxAge, the last one is
// served while it is younger than MaxAge, and once it is past a third of
// it the scrape that finds it starts a new reading in the background. A
// reading is then served at most a third of MaxAge plus one scrape
// interval after it was made, so scrapes at any interval under two thirds
// of MaxAge never wait for the query after the first (at half, an
// interval of exactly MaxAge/2 would sit on the edge and a little jitter
// would make scrapes read themselves), and a process nobody scrapes
// queries nothing. Without MaxAge, or when the last reading failed or is
// too old, the scrape reads itself.
func (s *State) reading() *stateReading {
	s.mu.Lock()
	if last := s.last; s.young(last, s.cfg.MaxAge) {
		if s.now().Sub(last.at) >= s.cfg.MaxAge/3 && !s.refreshing {
			s.refreshing = true
			go func() {
				s.readSerialized(s.cfg.MaxAge/3, true)
				s.mu.Lock()
				s.refreshing = false
				s.mu.Unlock()
				s.event("refreshed")
			}()
		}
		s.mu.Unlock()
		return last
	}
	s.mu.Unlock()
	return s.readSerialized(s.cfg.MaxAge, false)
}

// young reports whether r is a good reading younger than maxAge (never,
// without MaxAge). The caller holds s.mu.
func (s *State) young(r *stateReading, maxAge time.Duration) bool {
	return s.cfg.MaxAge > 0 && r != nil && r.err == nil && s.now().Sub(r.at) < maxAge
}

// readSerialized reads the database, one reading at a time (readings
// share the run counts), and stores the reading while still holding
// readMu, so that an older reading never replaces a newer one (the run
// counters would step back). A reading younger than fresh that another
// caller made while this one waited is returned instead of reading again.
// With warm (a reading in the background), the new reading's families are
// encoded in the formats the last one served before it replaces it, so
// that no scrape waits for them either.
func (s *State) readSerialized(fresh time.Duration, warm bool) *stateReading {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.mu.Lock()
	last := s.last
	ok := s.young(last, fresh)
	s.mu.Unlock()
	if ok {
		return last
	}
	r := s.read()
	if warm && last != nil {
		s.warm(r, last)
	}
	s.mu.Lock()
	s.last = r
	s.mu.Unlock()
	return r
}

// Collect implements prometheus.Collector: one reading, then every family.
// (Handler does not collect a State at every scrape: it serves the
// families it built from a reading until the next reading.)
func (s *State) Collect(ch chan<- prometheus.Metric) {
	s.collect(s.reading(), ch)
}

// collect sends the families of reading r.
func (s *State) collect(r *stateReading, ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(s.budget, s.cfg.BudgetUSD)
	gauge(s.seriesCap, float64(s.cfg.MaxSeries))

	gauge(s.queryDuration, r.queryDuration.Seconds())
	if r.err != nil {
		gauge(s.up, 0)
		return
	}
	snap := r.snap
	gauge(s.up, 1)

	for _, ph := range store.Phases {
		gauge(s.projects, float64(snap.ProjectsByPhase[ph]), string(ph))
	}
	for _, p := range snap.Projects {
		gauge(s.projectCost, p.EstimatedMonthlyCostUSD, p.UserID, p.ProjectID)
		gauge(s.projectCeiling, p.MaxMonthlyCostUSD, p.UserID, p.ProjectID)
		gauge(s.projectTTL, p.SecondsToExpiry, p.UserID, p.ProjectID)
		ready := 0.0
		if p.Ready {
			ready = 1
		}
		gauge(s.projectReady, ready, p.UserID, p.ProjectID)
		for ph, n := range p.Phases {
			gauge(s.projectPhase, float64(n), p.UserID, p.ProjectID, string(ph))
		}
		if snap.ActualCostsKnown {
			gauge(s.projectActual, p.ActualMonthToDateUSD, p.UserID, p.ProjectID)
		}
	}
	for _, u := range snap.Users {
		gauge(s.userProjects, float64(u.Projects), u.UserID)
		gauge(s.userResources, float64(u.Resources), u.UserID)
		gauge(s.userQuota, float64(u.MaxResources), u.UserID)
		gauge(s.userCost, u.EstimatedMonthlyCostUSD, u.UserID)
	}
	gauge(s.totalCost, snap.TotalEstimatedMonthlyCostUSD)
	gauge(s.queueDepth, float64(snap.QueueDepth))
	gauge(s.queueOldestWait, snap.OldestWaitSeconds)

	outbox := map[string]store.OutboxCount{}
	for _, o := range snap.Outbox {
		outbox[o.Channel] = o
	}
	for _, ch := range []string{store.ChannelWebhook, store.ChannelEmail} {
		gauge(s.outboxPending, float64(outbox[ch].Pending), ch)
		gauge(s.outboxFailing, float64(outbox[ch].Failing), ch)
	}

	counts := r.runCounts
	for _, op := range runOperations {
		for _, res := range runResults {
			ch <- prometheus.MustNewConstMetric(s.runs, prometheus.CounterValue, float64(counts[[2]string{op, res}]), op, res)
		}
	}
	// A deployment is one attempt to bring a spec to the cloud: it fails
	// when its plan fails as much as when its apply does (a plan failure
	// never reaches apply, and counting applies alone left the dashboard's
	// "failed deployments" at 0 while projects were Failed).
	ch <- prometheus.MustNewConstMetric(s.deployments, prometheus.CounterValue,
		float64(counts[[2]string{store.OpApply, store.OutcomeSucceeded}]), store.OutcomeSucceeded)
	ch <- prometheus.MustNewConstMetric(s.deployments, prometheus.CounterValue,
		float64(counts[[2]string{store.OpApply, store.OutcomeFailed}]+counts[[2]string{store.OpPlan, store.OutcomeFailed}]), store.OutcomeFailed)

	if s.cfg.Inventory != nil && r.inventoryErr == nil {
		gauge(s.orphaned, float64(r.orphaned))
		gauge(s.stray, float64(r.stray))
	}
}
