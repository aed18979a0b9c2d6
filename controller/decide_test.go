package controller

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// row builds a project whose last outcome (phase and Ready reason) was
// recorded for generation observed.
func row(phase store.Phase, reason string, generation, observed int64) store.Project {
	p := store.Project{Key: store.Key{UserID: "u", ProjectID: "p"}, Generation: generation,
		CreatedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)}
	p.Status.Phase = phase
	p.Status.ObservedGeneration = observed
	if phase == store.PhaseReady {
		p.Status.ObservedGeneration = observed
		verified := t0.Add(-time.Minute)
		p.Status.LastVerifiedAt = &verified
	}
	if reason != "" {
		p.Status.Conditions = []store.Condition{{Type: CondReady, Status: "False", Reason: reason, ObservedGeneration: observed}}
	}
	return p
}

type event func(p *store.Project, o *observed)

var (
	noEvent    event = func(*store.Project, *observed) {}
	specChange event = func(p *store.Project, _ *observed) { p.Generation++ }
	deletion   event = func(p *store.Project, _ *observed) { at := t0; p.DeletionRequestedAt = &at }
	expiry     event = func(p *store.Project, o *observed) { o.now = p.ExpiresAt.Add(time.Second) }
	extend     event = func(p *store.Project, _ *observed) { p.ExpiresAt = p.ExpiresAt.Add(time.Hour) }
	approve    event = func(p *store.Project, _ *observed) { p.ApprovedRun = p.Status.PendingPlanRun }
	// quotaChange: limits changed; nothing in the row says so, the
	// blocked-wait pass checks the fit itself.
	quotaChange event = func(*store.Project, *observed) {}
	driftDue    event = func(p *store.Project, o *observed) {
		o.now = t0.Add(7 * time.Hour)
		p.ExpiresAt = t0.Add(24 * time.Hour)
	}
	crash       event = func(_ *store.Project, o *observed) { o.interrupted = true }
	badVars     event = func(_ *store.Project, o *observed) { o.specOK = false }
	backoffOver event = func(_ *store.Project, o *observed) { o.now = t0.Add(time.Hour - time.Second) }
	forced      event = func(p *store.Project, _ *observed) { at := t0; p.DeletionRequestedAt = &at; p.ForceDestroy = true }
)

func withBackoff(p store.Project, attempts int) store.Project {
	next := t0.Add(time.Minute)
	p.Status.NextAttemptAt = &next
	p.Status.Attempts = attempts
	return p
}

func awaiting(p store.Project) store.Project {
	p.Status.PendingPlanRun = 4
	return p
}

// TestDecide covers every phase × event: spec change, delete, extend,
// approve, expiry, quota change, drift, a failure of each step, crash
// recovery, undecodable variables, forced deletion.
func TestDecide(t *testing.T) {
	t.Parallel()
	phases := map[string]store.Project{
		"Pending":           row(store.PhasePending, "", 1, 0),
		"Planning":          row(store.PhasePlanning, ReasonPlanning, 1, 1),
		"Applying":          row(store.PhaseApplying, ReasonApplying, 1, 1),
		"Ready":             row(store.PhaseReady, "", 1, 1),
		"AwaitingApproval":  awaiting(row(store.PhaseAwaitingApproval, ReasonApproval, 1, 1)),
		"Blocked":           row(store.PhaseBlocked, ReasonQuota, 1, 1),
		"RetryingPlan":      withBackoff(row(store.PhaseRetrying, ReasonPlanFailed, 1, 1), 1),
		"RetryingApply":     withBackoff(row(store.PhaseRetrying, ReasonApplyFailed, 1, 1), 2),
		"FailedPolicy":      row(store.PhaseFailed, ReasonPolicy, 1, 1),
		"FailedConfig":      row(store.PhaseFailed, ReasonConfiguration, 1, 1),
		"FailedLimit":       row(store.PhaseFailed, ReasonLimitExceeded, 1, 1),
		"Destroying":        withBackoff(row(store.PhaseDestroying, ReasonDestroyFailed, 1, 1), 1),
		"DestroyingTooMany": withBackoff(row(store.PhaseDestroying, ReasonDestroyFailed, 1, 1), 3),
	}
	for _, name := range []string{"Destroying", "DestroyingTooMany"} {
		p := phases[name]
		at := t0.Add(-time.Minute)
		p.DeletionRequestedAt = &at
		phases[name] = p
	}
	events := map[string]event{
		"none": noEvent, "specChange": specChange, "delete": deletion, "expiry": expiry, "extend": extend,
		"approve": approve, "quotaChange": quotaChange, "drift": driftDue, "crash": crash, "badVars": badVars,
		"backoffOver": backoffOver, "forceDelete": forced,
	}
	type want struct {
		a         Action
		stateOnly bool
		recover   bool
	}
	plan, idle := want{a: ActPlan}, want{a: ActIdle}
	destroy, expire := want{a: ActDestroy}, want{a: ActExpire}
	// Cells not listed take the column default below.
	table := map[string]map[string]want{
		"Pending":          {"none": plan, "extend": plan, "approve": plan, "quotaChange": plan, "drift": plan, "backoffOver": plan},
		"Planning":         {"none": plan, "extend": plan, "approve": plan, "quotaChange": plan, "drift": plan, "backoffOver": plan},
		"Applying":         {"none": plan, "extend": plan, "approve": plan, "quotaChange": plan, "drift": plan, "backoffOver": plan},
		"Ready":            {"none": idle, "extend": idle, "approve": idle, "quotaChange": idle, "drift": {a: ActDriftCheck}, "backoffOver": idle},
		"AwaitingApproval": {"none": {a: ActAwaitApproval}, "extend": {a: ActAwaitApproval}, "approve": {a: ActApplyReviewed}, "quotaChange": {a: ActAwaitApproval}, "drift": {a: ActAwaitApproval}, "backoffOver": {a: ActAwaitApproval}},
		"Blocked":          {"none": {a: ActBlockedWait}, "extend": {a: ActBlockedWait}, "approve": {a: ActBlockedWait}, "quotaChange": {a: ActBlockedWait}, "drift": {a: ActBlockedWait}, "backoffOver": {a: ActBlockedWait}},
		"RetryingPlan":     {"none": {a: ActBackoffWait}, "extend": {a: ActBackoffWait}, "approve": {a: ActBackoffWait}, "quotaChange": {a: ActBackoffWait}, "drift": plan, "backoffOver": plan},
		"RetryingApply":    {"none": {a: ActBackoffWait}, "extend": {a: ActBackoffWait}, "approve": {a: ActBackoffWait}, "quotaChange": {a: ActBackoffWait}, "drift": plan, "backoffOver": plan},
		"FailedPolicy":     {"none": idle, "extend": idle, "approve": idle, "quotaChange": idle, "drift": idle, "backoffOver": idle, "delete": {a: ActDestroy, stateOnly: true}, "expiry": {a: ActExpire, stateOnly: true}},
		"FailedConfig":     {"none": idle, "extend": idle, "approve": idle, "quotaChange": idle, "drift": idle, "backoffOver": idle},
		"FailedLimit":      {"none": idle, "extend": idle, "approve": idle, "quotaChange": idle, "drift": idle, "backoffOver": idle},
	}
	// Deletion requested: every event but the ones that end the backoff
	// waits; a spec change (a corrective PUT) retries at once.
	for _, name := range []string{"Destroying", "DestroyingTooMany"} {
		stateOnly := name == "DestroyingTooMany"
		row := map[string]want{}
		for e := range events {
			row[e] = want{a: ActBackoffWait}
		}
		row["specChange"] = want{a: ActDestroy}
		row["backoffOver"] = want{a: ActDestroy, stateOnly: stateOnly}
		row["drift"] = want{a: ActDestroy, stateOnly: stateOnly}
		row["expiry"] = want{a: ActDestroy, stateOnly: stateOnly}
		row["forceDelete"] = want{a: ActDestroy, stateOnly: true}
		table[name] = row
	}
	for phase, p0 := range phases {
		for ev, apply := range events {
			t.Run(fmt.Sprintf("%s/%s", phase, ev), func(t *testing.T) {
				p := p0
				o := observed{specOK: true, now: t0, driftEvery: 6 * time.Hour, stateOnlyAfter: 3}
				apply(&p, &o)
				o.p = p
				w, ok := table[phase][ev]
				if !ok {
					switch ev {
					case "specChange":
						w = plan
					case "delete":
						w = destroy
					case "forceDelete":
						w = want{a: ActDestroy, stateOnly: true}
					case "expiry":
						w = expire
					case "crash":
						w = want{a: ActPlan, recover: true}
					case "badVars":
						w = want{a: ActRefuse}
					default:
						t.Fatalf("no expectation for %s × %s", phase, ev)
					}
				}
				got := decide(o)
				if got.Action != w.a || got.StateOnly != w.stateOnly || got.Recover != w.recover {
					t.Fatalf("decide = %v stateOnly=%v recover=%v, want %v stateOnly=%v recover=%v",
						got.Action, got.StateOnly, got.Recover, w.a, w.stateOnly, w.recover)
				}
			})
		}
	}
}

// An undecodable spec already refused waits for a new generation.
func TestDecideRefusedSpecWaits(t *testing.T) {
	t.Parallel()
	p := row(store.PhaseFailed, ReasonInvalidSpec, 1, 1)
	if d := decide(observed{p: p, specOK: false, now: t0}); d.Action != ActIdle {
		t.Fatalf("refused spec decided %v", d.Action)
	}
}

// A plan of 100,000 resources keeps its counts but not its resource list.
func TestBoundPlanSummary(t *testing.T) {
	t.Parallel()
	big := tf.PlanSummary{Add: 100000}
	for i := 0; i < 100000; i++ {
		big.Resources = append(big.Resources, tf.PlannedResource{Address: fmt.Sprintf("terraform_data.a[%d]", i), Type: "terraform_data"})
	}
	got, ok := boundPlanSummary(big).(truncatedPlanSummary)
	if !ok || got.Add != 100000 || got.Resources != 100000 || !got.Truncated || got.Bytes <= maxPlanSummaryBytes {
		t.Fatalf("bounded summary: %+v", got)
	}
	small := tf.PlanSummary{Add: 1, Resources: []tf.PlannedResource{{Address: "terraform_data.a"}}}
	if _, ok := boundPlanSummary(small).(tf.PlanSummary); !ok {
		t.Fatal("a small summary was truncated")
	}
}
