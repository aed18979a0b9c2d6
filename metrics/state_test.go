package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
)

// seedSeveralPhases is a small platform: three users, projects in four
// phases, one quota override, some finished and one running run.
func seedSeveralPhases(t *testing.T, d db) {
	d.insert(t,
		project{user: "alice", id: "web", phase: store.PhaseReady, resources: 4, cost: 12.5, ceiling: 25, expiresIn: 3600, dueIn: 600},
		project{user: "alice", id: "db", phase: store.PhaseReady, resources: 3, cost: 30, ceiling: 50, expiresIn: 600, dueIn: 600},
		project{user: "bob", id: "api", phase: store.PhaseFailed, resources: 1, cost: 2.25, ceiling: 10, expiresIn: 60, dueIn: -120},
		project{user: "bob", id: "new", phase: store.PhasePending, expiresIn: 7200, dueIn: -30},
		project{user: "carol", id: "x", phase: store.PhaseApplying, resources: 2, cost: 5, ceiling: 5, expiresIn: -10, dueIn: -5, leased: true},
	)
	d.exec(t, `INSERT INTO user_quotas (user_id, max_resources, updated_at) VALUES ('alice', 7, now())`)
	d.exec(t, `INSERT INTO notification_outbox (channel, dedup_key, kind, payload, attempts, sent_at) VALUES
		('webhook', 'a', 'k', '{}', 0, NULL), ('webhook', 'b', 'k', '{}', 2, NULL), ('email', 'a', 'k', '{}', 1, now())`)
	d.insertRuns(t, store.OpApply, store.OutcomeSucceeded, 3)
	d.insertRuns(t, store.OpApply, store.OutcomeFailed, 2)
	d.insertRuns(t, store.OpPlan, store.OutcomeSucceeded, 5)
	d.exec(t, `INSERT INTO runs (project_uid, number, user_id, project_id, generation, operation, reconcile_id, owner, started_at)
		VALUES (gen_random_uuid(), 1, 'u', 'p', 1, 'destroy', 'rc', 'o', now())`)
	// Cost Explorer was asked this month: it charged two projects.
	if err := d.st.ReplaceActualCosts(context.Background(), time.Now(),
		map[string]float64{"chart-app-alice-web": 3.5, "chart-app-bob-api": 0.25}); err != nil {
		t.Fatal(err)
	}
}

func TestStateMatchesDatabase(t *testing.T) {
	t.Parallel()
	d := openDB(t)
	seedSeveralPhases(t, d)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewState(d.st, metrics.StateConfig{DefaultMaxResources: 10, BudgetUSD: 1000}))
	got := gather(t, reg)

	want := map[string]float64{
		`tenantform_state_up`:                           1,
		`tenantform_projects{phase="Ready"}`:            2,
		`tenantform_projects{phase="Failed"}`:           1,
		`tenantform_projects{phase="Pending"}`:          1,
		`tenantform_projects{phase="Applying"}`:         1,
		`tenantform_projects{phase="Planning"}`:         0,
		`tenantform_projects{phase="AwaitingApproval"}`: 0,
		`tenantform_projects{phase="Blocked"}`:          0,
		`tenantform_projects{phase="Destroying"}`:       0,
		`tenantform_projects{phase="Retrying"}`:         0,
		// One phase series per project, at 1.
		`tenantform_project_phase{phase="Ready",project="web",user="alice"}`:  1,
		`tenantform_project_phase{phase="Ready",project="db",user="alice"}`:   1,
		`tenantform_project_phase{phase="Failed",project="api",user="bob"}`:   1,
		`tenantform_project_phase{phase="Pending",project="new",user="bob"}`:  1,
		`tenantform_project_phase{phase="Applying",project="x",user="carol"}`: 1,
		// Month-to-date actual cost: what Cost Explorer listed, else $0.
		`tenantform_project_actual_month_to_date_cost_dollars{project="web",user="alice"}`: 3.5,
		`tenantform_project_actual_month_to_date_cost_dollars{project="db",user="alice"}`:  0,
		`tenantform_project_actual_month_to_date_cost_dollars{project="api",user="bob"}`:   0.25,
		`tenantform_project_actual_month_to_date_cost_dollars{project="new",user="bob"}`:   0,
		`tenantform_project_actual_month_to_date_cost_dollars{project="x",user="carol"}`:   0,
		`tenantform_user_resources{user="alice"}`:                                          7,
		`tenantform_user_resources{user="bob"}`:                                            1,
		`tenantform_user_resources{user="carol"}`:                                          2,
		`tenantform_user_resource_quota{user="alice"}`:                                     7,
		`tenantform_user_resource_quota{user="bob"}`:                                       10,
		`tenantform_user_resource_quota{user="carol"}`:                                     10,
		`tenantform_user_projects{user="alice"}`:                                           2,
		`tenantform_user_projects{user="bob"}`:                                             2,
		`tenantform_user_projects{user="carol"}`:                                           1,
		`tenantform_user_estimated_monthly_cost_dollars{user="alice"}`:                     42.5,
		`tenantform_user_estimated_monthly_cost_dollars{user="bob"}`:                       2.25,
		`tenantform_user_estimated_monthly_cost_dollars{user="carol"}`:                     5,
		`tenantform_project_estimated_monthly_cost_dollars{project="web",user="alice"}`:    12.5,
		`tenantform_project_estimated_monthly_cost_dollars{project="db",user="alice"}`:     30,
		`tenantform_project_estimated_monthly_cost_dollars{project="api",user="bob"}`:      2.25,
		`tenantform_project_estimated_monthly_cost_dollars{project="new",user="bob"}`:      0,
		`tenantform_project_estimated_monthly_cost_dollars{project="x",user="carol"}`:      5,
		`tenantform_project_max_monthly_cost_dollars{project="web",user="alice"}`:          25,
		`tenantform_project_max_monthly_cost_dollars{project="db",user="alice"}`:           50,
		`tenantform_project_max_monthly_cost_dollars{project="api",user="bob"}`:            10,
		`tenantform_project_max_monthly_cost_dollars{project="new",user="bob"}`:            0,
		`tenantform_project_max_monthly_cost_dollars{project="x",user="carol"}`:            5,
		`tenantform_project_ready{project="web",user="alice"}`:                             1,
		`tenantform_project_ready{project="db",user="alice"}`:                              1,
		`tenantform_project_ready{project="api",user="bob"}`:                               0,
		`tenantform_project_ready{project="new",user="bob"}`:                               0,
		`tenantform_project_ready{project="x",user="carol"}`:                               0,
		`tenantform_estimated_monthly_cost_dollars`:                                        49.75,
		`tenantform_cost_budget_dollars`:                                                   1000,
		`tenantform_metrics_max_series`:                                                    2000,
		// bob's two projects are due and unclaimed; carol's is leased.
		`tenantform_reconcile_queue_depth`:                                        2,
		`tenantform_deployments_total{result="succeeded"}`:                        3,
		`tenantform_deployments_total{result="failed"}`:                           2,
		`tenantform_terraform_runs_total{operation="apply",result="succeeded"}`:   3,
		`tenantform_terraform_runs_total{operation="apply",result="failed"}`:      2,
		`tenantform_terraform_runs_total{operation="plan",result="succeeded"}`:    5,
		`tenantform_terraform_runs_total{operation="plan",result="failed"}`:       0,
		`tenantform_terraform_runs_total{operation="destroy",result="succeeded"}`: 0,
		`tenantform_terraform_runs_total{operation="destroy",result="failed"}`:    0,
		`tenantform_notifications_pending{channel="webhook"}`:                     2,
		`tenantform_notifications_failing{channel="webhook"}`:                     1,
		`tenantform_notifications_pending{channel="email"}`:                       0,
		`tenantform_notifications_failing{channel="email"}`:                       0,
	}
	// Figures that depend on the database's clock are checked within a
	// tolerance below; everything else must match exactly.
	approx := map[string]float64{
		`tenantform_project_expiry_remaining_seconds{project="web",user="alice"}`: 3600,
		`tenantform_project_expiry_remaining_seconds{project="db",user="alice"}`:  600,
		`tenantform_project_expiry_remaining_seconds{project="api",user="bob"}`:   60,
		`tenantform_project_expiry_remaining_seconds{project="new",user="bob"}`:   7200,
		`tenantform_project_expiry_remaining_seconds{project="x",user="carol"}`:   -10,
		`tenantform_reconcile_queue_oldest_wait_seconds`:                          120,
	}
	for k, v := range approx {
		if math.Abs(got[k]-v) > 30 {
			t.Errorf("%s = %v, want about %v", k, got[k], v)
		}
		delete(got, k)
	}
	delete(got, "tenantform_state_query_duration_seconds")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state metrics (-want +got):\n%s", diff)
	}
}

func TestStateCapSumsTheRestIntoOther(t *testing.T) {
	t.Parallel()
	d := openDB(t)
	// Five users with one project each; cost and resources rise with the
	// user, so the most costly are u5, u4.
	// u1 and u2, summed into _other, are Retrying and Failed.
	for i, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
		phase := []store.Phase{store.PhaseRetrying, store.PhaseFailed, store.PhaseReady, store.PhaseReady, store.PhaseReady}[i]
		d.insert(t, project{user: u, id: "p", phase: phase, resources: i + 1, cost: float64(i + 1), ceiling: 10, expiresIn: 1000 * (i + 1)})
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewState(d.st, metrics.StateConfig{MaxSeries: 3, DefaultMaxResources: 10}))
	got := gather(t, reg)
	for _, fam := range []string{"tenantform_user_resources", "tenantform_user_resource_quota", "tenantform_user_projects",
		"tenantform_user_estimated_monthly_cost_dollars", "tenantform_project_estimated_monthly_cost_dollars",
		"tenantform_project_max_monthly_cost_dollars", "tenantform_project_expiry_remaining_seconds", "tenantform_project_ready"} {
		if n := countSeries(got, fam); n != 3 {
			t.Errorf("%s has %d series, want the cap, 3", fam, n)
		}
	}
	// The phase series: one per project under the cap, and _other's
	// projects counted per phase they are in.
	if n := countSeries(got, "tenantform_project_phase"); n != 2+3 {
		t.Errorf("tenantform_project_phase has %d series, want 2 projects and _other in 3 phases", n)
	}
	// Cost Explorer was never asked: no actual-cost series at all, not
	// zeros that would read as "free".
	if n := countSeries(got, "tenantform_project_actual_month_to_date_cost_dollars"); n != 0 {
		t.Errorf("%d actual-cost series before Cost Explorer was asked, want none", n)
	}
	want := map[string]float64{
		`tenantform_user_resources{user="u5"}`:                                              5,
		`tenantform_user_resources{user="u4"}`:                                              4,
		`tenantform_user_resources{user="_other"}`:                                          1 + 2 + 3,
		`tenantform_user_resource_quota{user="_other"}`:                                     30,
		`tenantform_user_projects{user="_other"}`:                                           3,
		`tenantform_project_estimated_monthly_cost_dollars{project="p",user="u5"}`:          5,
		`tenantform_project_estimated_monthly_cost_dollars{project="_other",user="_other"}`: 6,
		`tenantform_project_max_monthly_cost_dollars{project="_other",user="_other"}`:       30,
		`tenantform_estimated_monthly_cost_dollars`:                                         15,
		`tenantform_project_phase{phase="Ready",project="p",user="u5"}`:                     1,
		`tenantform_project_phase{phase="Retrying",project="_other",user="_other"}`:         1,
		`tenantform_project_phase{phase="Failed",project="_other",user="_other"}`:           1,
		`tenantform_project_phase{phase="Ready",project="_other",user="_other"}`:            1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// Once Cost Explorer answered, _other sums the actual costs it holds.
	if err := d.st.ReplaceActualCosts(context.Background(), time.Now(),
		map[string]float64{"chart-app-u1-p": 1.5, "chart-app-u2-p": 2, "chart-app-u5-p": 4}); err != nil {
		t.Fatal(err)
	}
	got = gather(t, reg)
	for k, v := range map[string]float64{
		`tenantform_project_actual_month_to_date_cost_dollars{project="_other",user="_other"}`: 3.5,
		`tenantform_project_actual_month_to_date_cost_dollars{project="p",user="u5"}`:          4,
		`tenantform_project_actual_month_to_date_cost_dollars{project="p",user="u4"}`:          0,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// _other's expiry is the soonest of what it sums (u1's, ~1000 s).
	if v := got[`tenantform_project_expiry_remaining_seconds{project="_other",user="_other"}`]; math.Abs(v-1000) > 30 {
		t.Errorf("_other expiry = %v, want about 1000", v)
	}
}

// The run counters come from the history without reading all of it on
// every scrape: settled runs are counted once and kept.
func TestRunCountsAreIncrementalAndExact(t *testing.T) {
	t.Parallel()
	d := openDB(t)
	run := func(op, outcome, finishedAgo string) {
		d.exec(t, `INSERT INTO runs (project_uid, number, user_id, project_id, generation, operation, reconcile_id, owner,
			started_at, finished_at, outcome)
			VALUES (gen_random_uuid(), 1, 'u', 'p', 1, $1, 'rc', 'o', now() - $3::interval, now() - $3::interval, $2)`, op, outcome, finishedAgo)
	}
	run("apply", "succeeded", "2 hours")
	run("apply", "succeeded", "1 hour")
	run("apply", "failed", "30 days")
	run("apply", "succeeded", "0 seconds")
	run("plan", "failed", "1 second")
	// A run still going is not counted, and is once it finishes.
	d.exec(t, `INSERT INTO runs (project_uid, number, user_id, project_id, generation, operation, reconcile_id, owner, started_at)
		VALUES (gen_random_uuid(), 1, 'u', 'p', 1, 'destroy', 'rc', 'o', now())`)

	state := metrics.NewState(d.st, metrics.StateConfig{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(state)
	check := func(when string, want map[string]float64) {
		t.Helper()
		got := gather(t, reg)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", when, k, got[k], v)
			}
		}
	}
	// A failed plan is a failed deployment as much as a failed apply.
	first := map[string]float64{
		`tenantform_deployments_total{result="succeeded"}`:                        3,
		`tenantform_deployments_total{result="failed"}`:                           2,
		`tenantform_terraform_runs_total{operation="plan",result="failed"}`:       1,
		`tenantform_terraform_runs_total{operation="destroy",result="succeeded"}`: 0,
	}
	check("first scrape", first)
	check("second scrape, nothing new", first)

	d.exec(t, `UPDATE runs SET finished_at = now(), outcome = 'succeeded' WHERE finished_at IS NULL`)
	run("apply", "failed", "0 seconds")
	check("after more runs", map[string]float64{
		`tenantform_deployments_total{result="succeeded"}`:                        3,
		`tenantform_deployments_total{result="failed"}`:                           3,
		`tenantform_terraform_runs_total{operation="plan",result="failed"}`:       1,
		`tenantform_terraform_runs_total{operation="destroy",result="succeeded"}`: 1,
	})

	// And the query behind a later scrape reads only the recent runs.
	snap, err := d.st.MetricsSnapshot(context.Background(), 10, 10, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	recent, err := d.st.MetricsSnapshot(context.Background(), 10, 10, snap.SettledBefore)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, r := range recent.Runs {
		n += r.Count
	}
	if n != 4 {
		t.Errorf("a scrape after settling reads %d runs, want the 4 finished in the last %s: %+v", n, store.RunSettleDelay, recent.Runs)
	}
}

type failingSource struct{}

func (failingSource) MetricsSnapshot(context.Context, int, int, time.Time) (store.MetricsSnapshot, error) {
	return store.MetricsSnapshot{}, errors.New("database unreachable")
}

func TestStateQueryFailureIsReportedNotFatal(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry("test", metrics.NewState(failingSource{}, metrics.StateConfig{BudgetUSD: 5}))
	got := gather(t, reg)
	if got["tenantform_state_up"] != 0 || got["tenantform_cost_budget_dollars"] != 5 {
		t.Errorf("up = %v, budget = %v; want 0 and 5", got["tenantform_state_up"], got["tenantform_cost_budget_dollars"])
	}
	if n := countSeries(got, "tenantform_projects"); n != 0 {
		t.Errorf("%d project series after a failed query, want none (not zeros that look real)", n)
	}
	if got["tenantform_build_info{goversion=\""+goVersion()+"\",version=\"test\"}"] != 1 {
		t.Errorf("no build info: %v", keys(got, "tenantform_build_info"))
	}
}

type inventory struct{ orphaned, stray int }

func (i inventory) ResourceCounts(context.Context) (int, int, error) { return i.orphaned, i.stray, nil }

// fullHandler serves every tenantform collector (see fullCollectors), as
// a process serving both roles would.
func fullHandler(t testing.TB, d db, maxSeries int) http.Handler {
	cs := fullCollectors(t, d, maxSeries)
	return metrics.Handler(metrics.NewRegistry("1.2.3", cs[1:]...), cs[0].(*metrics.State))
}

func TestPromtoolCheckMetricsIsQuiet(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	d := openDB(t)
	seedSeveralPhases(t, d)
	text := exposition(t, fullHandler(t, d, 100))
	if !strings.Contains(text, `tenantform_projects{phase="Ready"} 2`) || !strings.Contains(text, "tenantform_orphaned_resources 1") ||
		!strings.Contains(text, `tenantform_project_phase{phase="Failed",project="api",user="bob"} 1`) ||
		!strings.Contains(text, `tenantform_project_actual_month_to_date_cost_dollars{project="web",user="alice"} 3.5`) {
		t.Fatalf("exposition lacks the state metrics:\n%s", text)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
}
