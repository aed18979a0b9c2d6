package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// plan produces the saved plan to apply and its cost. An approved
// generation whose plan this controller still holds applies that very plan.
func (ps *pass) plan(ctx context.Context) (*tf.Plan, cost.Estimate, error) {
	p := ps.p
	if p.Spec.RequireApproval && p.ApprovedGeneration == p.Generation {
		ps.c.mu.Lock()
		held, ok := ps.c.pendingPlans[p.Key]
		ps.c.mu.Unlock()
		if ok && held.generation == p.Generation {
			return held.plan, ps.c.cfg.Estimator.Estimate(p.Spec.Region, held.plan.Summary.Resources), nil
		}
	}
	var plan *tf.Plan
	var est cost.Estimate
	err := ps.recordRun(ctx, store.OpPlan, func() (store.RunResult, error) {
		var err error
		plan, err = ps.c.tf.Plan(ctx, ps.tfp, ps.creds)
		if err != nil {
			return store.RunResult{}, err
		}
		est = ps.c.cfg.Estimator.Estimate(p.Spec.Region, plan.Summary.Resources)
		total := est.MonthlyUSD
		return store.RunResult{PlanSummary: plan.Summary, CostEstimate: est, EstimatedMonthlyCostUSD: &total, LogTail: plan.Log}, nil
	})
	return plan, est, err
}

// apply applies exactly the saved plan. Its run row, written before
// terraform starts, is the "apply started" marker: if this process dies
// mid-apply, the next reconciler finds the run unfinished and re-plans
// from state rather than trusting the status.
func (ps *pass) apply(ctx context.Context, plan *tf.Plan) error {
	return ps.recordRun(ctx, store.OpApply, func() (store.RunResult, error) {
		res, err := ps.c.tf.Apply(ctx, ps.tfp, plan, ps.creds)
		if err != nil {
			return store.RunResult{}, err
		}
		return store.RunResult{PlanSummary: plan.Summary, LogTail: res.Log}, nil
	})
}

// destroy takes the deletion path (finalizer): terraform destroy, then the
// workspace's state, then the row. A failure keeps the row and retries.
func (ps *pass) destroy(ctx context.Context, reason, why string) outcome {
	p := ps.p
	ps.setPhase(ctx, store.PhaseDestroying, condFalse(CondReady, reason, why, p.Generation))
	ps.st.Message = why
	err := ps.recordRun(ctx, store.OpDestroy, func() (store.RunResult, error) {
		res, err := ps.c.tf.Destroy(ctx, ps.tfp, ps.creds)
		var perr *policy.Error
		if errors.As(err, &perr) {
			// The spec fails the policy (it was stored before the policy
			// was tightened, or it never passed): destroy what the state
			// holds without running the tenant's configuration at all.
			ps.log.Warn("spec violates the policy; destroying from state alone", zap.Error(err))
			res, err = ps.c.tf.Destroy(ctx, tf.StateOnly(ps.tfp), ps.creds)
		}
		if err != nil {
			return store.RunResult{}, err
		}
		return store.RunResult{LogTail: res.Log}, nil
	})
	if err == nil {
		err = ps.c.tf.DeleteWorkspace(ctx, ps.tfp)
	}
	if err != nil {
		return ps.fail(err, ReasonDestroyFailed)
	}
	ps.c.dropPendingPlan(p.Key)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
	defer cancel()
	if err := ps.c.store.DeleteFinalized(wctx, p.Key, ps.c.cfg.Owner, p.UID, ps.c.cfg.Clock.Now()); err != nil {
		// Destroyed but the row remains: the next pass destroys again
		// (a no-op) and retries the removal.
		return ps.fail(fmt.Errorf("cannot remove the project row: %w", err), ReasonDestroyFailed)
	}
	return outcome{deleted: true}
}

// recordRun wraps one terraform operation in a run row.
func (ps *pass) recordRun(ctx context.Context, op string, do func() (store.RunResult, error)) error {
	runID, err := ps.c.store.StartRun(ctx, ps.p, op, ps.id, ps.c.cfg.Owner, ps.c.cfg.Clock.Now())
	if err != nil {
		return fmt.Errorf("cannot record the start of %s: %w", op, err)
	}
	started := time.Now()
	res, opErr := do()
	res.Outcome = store.OutcomeSucceeded
	if opErr != nil {
		res.Outcome = store.OutcomeFailed
		res.Error = opErr.Error()
		var cmdErr *tf.CommandError
		if errors.As(opErr, &cmdErr) {
			res.LogTail = cmdErr.LogTail
		}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
	defer cancel()
	if err := ps.c.store.FinishRun(wctx, runID, res, ps.c.cfg.Clock.Now()); err != nil {
		ps.log.Error("cannot record the end of a run", zap.Int64("run_id", runID), zap.Error(err))
		if opErr == nil {
			return fmt.Errorf("cannot record the end of %s: %w", op, err)
		}
	}
	ps.log.Info("terraform "+op, zap.Int64("run_id", runID), zap.String("outcome", res.Outcome),
		zap.Duration("duration", time.Since(started)))
	return opErr
}

// admit checks the plan against the user's resource quota, the project's
// cost ceiling and the platform budget. It returns the Blocked outcome, or
// nil when the plan may be applied. Nothing is applied when blocked; the
// project is looked at again when its spec or the limits change, or at the
// next resync.
func (ps *pass) admit(ctx context.Context, plan *tf.Plan, est cost.Estimate) *outcome {
	p := ps.p
	usage, err := ps.c.store.UserUsage(ctx, p.UserID, p.ProjectID)
	if err != nil {
		o := ps.fail(err, ReasonPlanFailed)
		return &o
	}
	override, err := ps.c.store.GetQuotaOverride(ctx, p.UserID)
	if err != nil {
		o := ps.fail(err, ReasonPlanFailed)
		return &o
	}
	limit := ps.c.cfg.MaxResourcesPerUser
	if override.MaxResources != nil {
		limit = *override.MaxResources
	}
	resources := len(plan.Summary.Resources)
	if usage.Resources+resources > limit {
		return ps.blocked(ReasonQuota, fmt.Sprintf(
			"this project would have %d resources and user %s's other projects have %d: %d in all, over the limit of %d",
			resources, p.UserID, usage.Resources, usage.Resources+resources, limit))
	}

	ceiling := ps.c.cfg.MaxCostPerProjectUSD
	if override.MaxMonthlyCostUSD != nil {
		ceiling = *override.MaxMonthlyCostUSD
	}
	// The API always stores a concrete ceiling; 0 means "free resources only".
	if p.Spec.MaxMonthlyCostUSD >= 0 && p.Spec.MaxMonthlyCostUSD < ceiling {
		ceiling = p.Spec.MaxMonthlyCostUSD
	}
	if est.MonthlyUSD > ceiling {
		return ps.blocked(ReasonBudget, fmt.Sprintf(
			"estimated cost $%.2f/month is over the project's ceiling of $%.2f/month", est.MonthlyUSD, ceiling))
	}

	if limit := ps.c.cfg.CostBudgetLimitUSD; limit > 0 {
		others, err := ps.c.store.TotalMonthlyCost(ctx, p.Key)
		if err != nil {
			o := ps.fail(err, ReasonPlanFailed)
			return &o
		}
		if others+est.MonthlyUSD > limit {
			return ps.blocked(ReasonBudget, fmt.Sprintf(
				"estimated cost $%.2f/month plus $%.2f/month of all other projects exceeds the platform budget of $%.2f/month",
				est.MonthlyUSD, others, limit))
		}
	}
	setCondition(&ps.st, condTrue(CondAdmitted, ReasonWithinLimit,
		fmt.Sprintf("%d resource(s), $%.2f/month", resources, est.MonthlyUSD), p.Generation), ps.now)
	return nil
}

func (ps *pass) blocked(reason, msg string) *outcome {
	ps.st.Phase = store.PhaseBlocked
	ps.st.Message = msg
	ps.st.LastError = ""
	ps.st.Attempts, ps.st.NextAttemptAt = 0, nil
	setCondition(&ps.st, condFalse(CondAdmitted, reason, msg, ps.p.Generation), ps.now)
	setCondition(&ps.st, condFalse(CondReady, reason, msg, ps.p.Generation), ps.now)
	ps.log.Info("plan refused by admission", zap.String("reason", reason), zap.String("detail", msg))
	return &outcome{nextDue: ps.nextDue()}
}
