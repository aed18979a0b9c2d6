package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// Speculative plans: a plan of a spec that is never applied (POST
// .../projects/{id}/plan). The claim loop takes them in turn with due
// projects, under the same per-user worker cap and round-robin
// (store.ClaimSpeculativePlan), and a worker plans one apart from the
// project: its own workdir, a copy of the project's state, the same
// policy, limits and credentials. It then tells what the reconcile would
// decide (policy, cost ceiling, quota, budget) in the words the project
// would get, without writing anything but the run: not the spec, the
// status, the reservations, the state, nor AWS.

// SpeculativeStore is the slice of the store speculative plans need. A
// store without it has no speculative plans to claim.
type SpeculativeStore interface {
	ClaimSpeculativePlan(ctx context.Context, c store.Claim, reconcileID string) (store.SpeculativePlan, bool, error)
	RenewSpeculativeLease(ctx context.Context, rowID int64, token string, leaseFor time.Duration) error
	FinishSpeculativePlan(ctx context.Context, rowID int64, token string, res store.RunResult, found *store.SpeculativeFindings, now time.Time) error
	ReleaseSpeculativePlan(ctx context.Context, rowID int64, token string) error
}

// SpeculativeTerraform plans without applying (tf.Engine.PlanSpeculative).
type SpeculativeTerraform interface {
	PlanSpeculative(ctx context.Context, p tf.Project, state []byte, creds *tf.Credentials) (*tf.SpeculativePlan, error)
}

// maxSpeculativeAttempts: a speculative plan that this many workers took
// without finishing (each stopped mid-plan: crashed, killed for memory) is
// failed rather than handed to the next.
const maxSpeculativeAttempts = 3

// maxSpeculativeChanges bounds the changes listed on a speculative run (a
// count = 100000 would list every instance); the counts stay exact.
const maxSpeculativeChanges = 1000

// speculative returns the store and engine halves of speculative plans,
// or false when either lacks them.
func (c *Controller) speculative() (SpeculativeStore, SpeculativeTerraform, bool) {
	ss, ok1 := c.store.(SpeculativeStore)
	st, ok2 := c.tf.(SpeculativeTerraform)
	return ss, st, ok1 && ok2
}

// claimNext claims the next piece of work: a due project or a queued
// speculative plan. The two queues are asked in turn, each first every
// other time, so a backlog of one never starves the other; within each,
// users take turns (user_claims) and the per-user cap counts both.
func (c *Controller) claimNext(ctx context.Context) (store.Project, *store.SpeculativePlan, bool, error) {
	c.mu.Lock()
	first := c.speculativeFirst
	c.speculativeFirst = !first
	c.mu.Unlock()
	if first {
		if sp, ok, err := c.claimSpeculative(ctx); ok || err != nil {
			return store.Project{}, sp, ok, err
		}
	}
	p, ok, err := c.claim(ctx)
	if ok || err != nil || first {
		return p, nil, ok, err
	}
	sp, ok, err := c.claimSpeculative(ctx)
	return store.Project{}, sp, ok, err
}

func (c *Controller) claimSpeculative(ctx context.Context) (*store.SpeculativePlan, bool, error) {
	ss, _, ok := c.speculative()
	if !ok {
		return nil, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	sp, ok, err := ss.ClaimSpeculativePlan(ctx, store.Claim{Owner: c.cfg.Owner, LeaseFor: c.cfg.LeaseDuration,
		Now: c.cfg.Clock.Now(), MaxPerUser: c.cfg.MaxWorkersPerUser}, newReconcileID())
	if !ok || err != nil {
		return nil, false, err
	}
	return &sp, true, nil
}

// planSpeculative runs one claimed speculative plan and records what it
// found on its run. stopCtx is the controller's run context: a plan cut
// short by shutdown goes back to the queue for another worker.
func (c *Controller) planSpeculative(workCtx, stopCtx context.Context, sp store.SpeculativePlan) {
	ss, st, _ := c.speculative()
	log := c.log.With(zap.String("user_id", sp.UserID), zap.String("project_id", sp.ProjectID),
		zap.String("reconcile_id", sp.ReconcileID), zap.Int64("speculative_plan", sp.RowID))
	ctx, cancel := context.WithCancelCause(workCtx)
	defer cancel(nil)
	// Another worker may have the plan once its lease is lost or not
	// renewed in time: the plan is then cancelled.
	go c.keepLease(ctx, c.cfg.Clock.Now(), func(rctx context.Context) error {
		return ss.RenewSpeculativeLease(rctx, sp.RowID, sp.LeaseToken, c.cfg.LeaseDuration)
	}, cancel, nil, log)

	started := time.Now()
	res, found := c.speculate(ctx, st, sp)
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(workCtx), statusWriteTimeout)
	defer wcancel()
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, store.ErrLeaseLost) || errors.Is(cause, errLeaseNotRenewed):
		log.Warn("speculative plan abandoned: its lease was lost; another reconciler plans it", zap.Error(cause))
		return
	case stopCtx.Err() != nil && ctx.Err() != nil:
		if err := ss.ReleaseSpeculativePlan(wctx, sp.RowID, sp.LeaseToken); err != nil {
			log.Warn("cannot hand the speculative plan back; its lease expires on its own", zap.Error(err))
		}
		return
	}
	if err := ss.FinishSpeculativePlan(wctx, sp.RowID, sp.LeaseToken, res, found, c.cfg.Clock.Now()); err != nil {
		log.Error("cannot record the speculative plan", zap.Error(err))
		return
	}
	log.Info("speculative plan", zap.String("outcome", res.Outcome), zap.String("admission", found.Admission.Verdict),
		zap.String("policy", found.Policy.Verdict), zap.Duration("duration", time.Since(started)))
}

// speculate plans sp and judges the plan as a reconcile would. The run
// fails only when no plan could be made (terraform failed, the project
// changed incarnation); a refusal by policy or admission is a verdict of a
// successful run.
func (c *Controller) speculate(ctx context.Context, st SpeculativeTerraform, sp store.SpeculativePlan) (store.RunResult, *store.SpeculativeFindings) {
	found := &store.SpeculativeFindings{
		Changes:   []store.SpeculativeChange{},
		Admission: store.Verdict{Verdict: store.VerdictNotEvaluated, Message: "not evaluated: no plan was made"},
		Policy:    store.Verdict{Verdict: store.VerdictNotEvaluated, Message: "not evaluated: no plan was made"},
	}
	failed := func(err error) (store.RunResult, *store.SpeculativeFindings) {
		var res store.RunResult
		setFailed(&res, err)
		return res, found
	}
	if sp.Attempts > maxSpeculativeAttempts {
		return failed(fmt.Errorf("%d reconcilers took this speculative plan and each stopped before finishing it; request it again",
			sp.Attempts-1))
	}
	p, state, err := c.speculativeSubject(ctx, sp)
	if err != nil {
		return failed(err)
	}
	found.ProjectExists = p.UID != ""
	tfp, err := tfProject(p)
	if err != nil {
		return failed(err)
	}
	creds, err := c.credentialsFor(ctx, sp.UserID, sp.ProjectID)
	if err != nil {
		return failed(err)
	}

	opCtx, cancelOp := context.WithTimeout(ctx, c.cfg.OperationTimeout)
	defer cancelOp()
	started := time.Now()
	plan, err := st.PlanSpeculative(opCtx, tfp, state, creds)
	c.cfg.Metrics.ObserveTerraform(store.OpPlan, time.Since(started))
	var pe *policy.Error
	switch {
	case errors.As(err, &pe):
		found.Policy = store.Verdict{Verdict: store.VerdictRefused, Reason: ReasonPolicy, Violations: pe.Violations,
			Message: fmt.Sprintf("would be refused: the configuration breaks the policy (%d problem(s)):\n%s", len(pe.Violations), violationLines(pe.Violations))}
		found.Admission.Message = "not evaluated: the policy refuses the configuration before any plan"
		return store.RunResult{Outcome: store.OutcomeSucceeded}, found
	case err != nil && errors.Is(opCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return failed(c.deadlineError(store.OpPlan, err))
	case err != nil:
		return failed(err)
	}

	for i, ch := range plan.Changes {
		if i == maxSpeculativeChanges {
			found.ChangesOmitted = len(plan.Changes) - i
			break
		}
		found.Changes = append(found.Changes, store.SpeculativeChange{Address: ch.Address, Type: ch.Type, Action: ch.Action})
	}
	est := c.cfg.Estimator.Estimate(p.Spec.Region, plan.Summary.Resources)
	total := est.MonthlyUSD
	res := store.RunResult{Outcome: store.OutcomeSucceeded, PlanSummary: boundPlanSummary(plan.Summary), CostEstimate: est,
		EstimatedMonthlyCostUSD: &total, LogTail: plan.Log}

	refused, unknown := splitPlanViolations(plan.Violations)
	found.Policy = store.Verdict{Verdict: store.VerdictPassed, Message: "the configuration and the plan pass the policy"}
	if len(refused) > 0 {
		found.Policy = store.Verdict{Verdict: store.VerdictRefused, Reason: ReasonPolicy, Violations: plan.Violations,
			Message: fmt.Sprintf("would be refused: the plan breaks the policy (%d problem(s)):\n%s", len(refused), strings.Join(refused, "\n"))}
	}
	if len(unknown) > 0 {
		found.Admission = store.Verdict{Verdict: store.VerdictBlocked, Reason: ReasonCostUnknown,
			Message: "would be blocked: cost unknown: the plan's cost cannot be known before apply:\n" + strings.Join(unknown, "\n")}
		return res, found
	}
	if found.Admission, err = c.speculativeAdmission(ctx, p, len(plan.Summary.Resources), est); err != nil {
		return failed(err)
	}
	return res, found
}

// speculativeSubject is the project a speculative plan previews, and the
// state to plan it against: the live project it was requested for (uid
// set) with a copy of its state, or, for a project that did not exist, a
// new one (no uid, no state). A project created, or deleted, since the
// request is not the one the user previewed: the run fails and says so.
func (c *Controller) speculativeSubject(ctx context.Context, sp store.SpeculativePlan) (store.Project, []byte, error) {
	key := store.Key{UserID: sp.UserID, ProjectID: sp.ProjectID}
	p := store.Project{Key: key, Spec: sp.Spec, CreatedAt: c.cfg.Clock.Now().UTC()}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	cur, err := c.store.GetProject(dctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrGone):
		if sp.Generation > 0 {
			return p, nil, fmt.Errorf("project %s was deleted after this speculative plan was requested", key)
		}
		return p, nil, nil
	case err != nil:
		return p, nil, err
	case cur.UID != sp.ProjectUID:
		return p, nil, fmt.Errorf("project %s was created (or deleted and created again) after this speculative plan was requested; request it again to compare with it", key)
	}
	p.UID, p.CreatedAt, p.Generation = cur.UID, cur.CreatedAt, cur.Generation
	raw, exists, err := c.store.TerraformState(dctx, c.cfg.StateSchema, tf.WorkspaceName(key.UserID, key.ProjectID))
	if err != nil {
		return p, nil, fmt.Errorf("cannot read the project's state: %w", err)
	}
	if !exists {
		return p, nil, nil
	}
	return p, raw, nil
}

// speculativeAdmission is admission's verdict on a plan of resources
// resources costing est, as the reconcile would judge it (cost ceiling,
// then quota and budget with store.Admit), without reserving anything.
func (c *Controller) speculativeAdmission(ctx context.Context, p store.Project, resources int, est cost.Estimate) (store.Verdict, error) {
	maxResources, ceiling, err := c.limits(ctx, p.UserID, p.Spec)
	if err != nil {
		return store.Verdict{}, err
	}
	if est.MonthlyUSD > ceiling {
		return store.Verdict{Verdict: store.VerdictBlocked, Reason: ReasonBudget,
			Message: "would be blocked: cost ceiling: " + overCeiling(est.MonthlyUSD, ceiling)}, nil
	}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	res, err := c.store.Admit(dctx, p.Key, "", store.Admission{Resources: resources, MonthlyUSD: est.MonthlyUSD,
		MaxResources: maxResources, BudgetUSD: c.cfg.CostBudgetLimitUSD, DryRun: true})
	if err != nil {
		return store.Verdict{}, err
	}
	if reason, msg := c.refusal(p.UserID, res, resources, est.MonthlyUSD, maxResources); reason != "" {
		limit := "quota"
		if res.OverBudget {
			limit = "budget"
		}
		return store.Verdict{Verdict: store.VerdictBlocked, Reason: reason, Message: "would be blocked: " + limit + ": " + msg}, nil
	}
	return store.Verdict{Verdict: store.VerdictAdmitted, Message: fmt.Sprintf(
		"would be admitted: %d resource(s) (the user's other projects hold %d, the limit is %d), $%.2f/month (the ceiling is $%.2f/month)",
		resources, res.OthersResources, maxResources, est.MonthlyUSD, ceiling)}, nil
}

func violationLines(vs []policy.Violation) string {
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.String()
	}
	return strings.Join(lines, "\n")
}
