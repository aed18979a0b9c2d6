package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// errSuperseded ends a plan that a client write made pointless.
var errSuperseded = errors.New("plan cancelled: the project changed while it was being planned")

// converge plans the current generation, admits it, and applies it or keeps
// it for approval.
func (ps *pass) converge(ctx context.Context) outcome {
	p := ps.p
	if c, ok := findCondition(p.Status, CondReady); !ok || c.ObservedGeneration != p.Generation {
		ps.st.Attempts = 0 // a new spec starts its backoff afresh
	}
	ps.st.PendingPlanRun = 0 // a new plan supersedes any saved one
	ps.setPhase(ctx, store.PhasePlanning, condFalse(CondReady, ReasonPlanning, "planning generation "+fmt.Sprint(p.Generation), p.Generation))

	plan, est, ref, err := ps.plan(ctx)
	if errors.Is(err, errSuperseded) {
		ps.st.Message = "the plan was cancelled by a newer change; planning again"
		return outcome{nextDue: ps.now}
	}
	if err != nil {
		return ps.fail(err, ReasonPlanFailed)
	}
	adopt := ps.adoptStrays(ctx, plan)
	recovered, err := ps.recoverCreations(ctx, plan)
	if err != nil {
		return ps.fail(err, ReasonPlanFailed)
	}
	if adopt || recovered {
		// Plan again with the import blocks: the saved plan then adopts
		// the strays rather than creating duplicates.
		ps.runReason = "Adopt"
		if plan, est, ref, err = ps.plan(ctx); err != nil {
			return ps.fail(err, ReasonPlanFailed)
		}
	}
	ps.st.PlannedResources, ps.st.PlannedMonthlyCostUSD = len(plan.Summary.Resources), est.MonthlyUSD
	if out := ps.planPolicy(plan); out != nil {
		return *out
	}
	if blocked := ps.admit(ctx, plan.Summary.Resources, est); blocked != nil {
		return *blocked
	}

	// An adopting plan may import without adding anything: it still
	// has to be applied.
	if !plan.Summary.HasChanges() && len(ps.tfp.Imports) == 0 {
		return ps.ready(ctx, false)
	}
	if why := adoptionWouldDestroy(plan, ps.tfp.Imports); why != "" {
		// Never apply an adoption that destroys what it adopts (or
		// anything else): an operator decides, whatever requireApproval
		// says. The planfile is kept with the run for that approval.
		ps.st.PendingPlanRun = ref.Number
		ps.st.Phase = store.PhaseAwaitingApproval
		ps.st.Message = fmt.Sprintf("run %d: %s; nothing was applied. Review the run, then approve it with POST .../approve {\"runId\": %d}, or change the spec",
			ref.Number, why, ref.Number)
		setCondition(&ps.st, condFalse(CondReady, ReasonAdoptionWouldDestroy, ps.st.Message, p.Generation), ps.now)
		ps.st.Attempts, ps.st.NextAttemptAt, ps.st.LastError = 0, nil, ""
		ps.log.Warn("an adoption plan would destroy; waiting for an admin's approval", zap.Int64("run", ref.Number), zap.String("plan", why))
		return outcome{nextDue: ps.nextDue()}
	}
	if p.Spec.RequireApproval {
		ps.st.PendingPlanRun = ref.Number
		ps.st.Phase = store.PhaseAwaitingApproval
		what := "generation " + fmt.Sprint(p.Generation)
		if ps.drift {
			what = "a drift correction of generation " + fmt.Sprint(p.Generation)
		}
		ps.st.Message = fmt.Sprintf("run %d planned %s: %d to add, %d to change, %d to destroy, about $%.2f/month; approve it with POST .../approve {\"runId\": %d}",
			ref.Number, what, plan.Summary.Add, plan.Summary.Change, plan.Summary.Destroy, est.MonthlyUSD, ref.Number)
		setCondition(&ps.st, condFalse(CondReady, ReasonApproval, ps.st.Message, p.Generation), ps.now)
		ps.st.Attempts, ps.st.NextAttemptAt, ps.st.LastError = 0, nil, ""
		return outcome{nextDue: ps.nextDue()}
	}
	if ps.drift {
		ps.log.Warn("drift found; re-applying the spec", zap.Int("add", plan.Summary.Add),
			zap.Int("change", plan.Summary.Change), zap.Int("destroy", plan.Summary.Destroy))
	}
	if err := ps.apply(ctx, plan.Bytes, plan.Summary, creationRecords(plan), 0); err != nil {
		if isAlreadyOwned(err) && !ps.retriedOwned {
			// A bucket this apply (or an interrupted one) was creating
			// exists already: the recovery finds it by its recorded name
			// and window and adopts it, at once.
			ps.retriedOwned = true
			ps.log.Warn("a bucket the apply creates exists already; looking for it as a find of the creation records", zap.Error(err))
			return ps.converge(ctx)
		}
		return ps.fail(err, ReasonApplyFailed)
	}
	return ps.ready(ctx, true)
}

// planPolicy acts on the plan-time policy stage (policy.CheckPlan on the
// saved plan, before admission): a policy violation is terminal, with the
// resource addresses; a cost the plan cannot know blocks the project
// (CostUnknown) rather than pricing it at $0. Quota findings are left to
// admission, which counts reservations too.
func (ps *pass) planPolicy(plan *tf.Plan) *outcome {
	refused, unknown := splitPlanViolations(plan.Violations)
	switch {
	case len(refused) > 0:
		o := ps.terminal(ReasonPolicy, fmt.Sprintf("the plan breaks the policy (%d problem(s)):\n%s", len(refused), strings.Join(refused, "\n")))
		return &o
	case len(unknown) > 0:
		return ps.blocked(ReasonCostUnknown, fmt.Sprintf("the plan's cost cannot be known before apply:\n%s", strings.Join(unknown, "\n")))
	}
	return nil
}

// splitPlanViolations sorts the plan policy's findings into what refuses
// the plan and what makes its cost unknown; quota findings are left to
// admission, which counts reservations too.
func splitPlanViolations(violations []policy.Violation) (refused, unknown []string) {
	for _, v := range violations {
		line := v.Message
		if v.Address != "" {
			line = v.Address + ": " + v.Message
		}
		switch v.Reason {
		case policy.ReasonCostUnknown:
			unknown = append(unknown, line)
		case policy.ReasonQuota:
		default:
			refused = append(refused, line)
		}
	}
	return refused, unknown
}

// applyReviewed applies exactly the planfile a client approved, read from
// the database, on whichever replica holds the project. A stale planfile
// (the state changed) is dropped and the project re-planned for a new
// approval; a failed apply drops it too (after a partial apply it is stale).
func (ps *pass) applyReviewed(ctx context.Context) outcome {
	run := ps.p.Status.PendingPlanRun
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	planfile, _, err := ps.c.store.Planfile(dctx, ps.p.UID, run)
	cancel()
	if errors.Is(err, store.ErrNotFound) {
		ps.log.Warn("the approved plan is no longer kept; planning again", zap.Int64("run", run))
		ps.st.PendingPlanRun = 0
		return ps.converge(ctx)
	}
	if err != nil {
		return ps.fail(err, ReasonApplyFailed)
	}
	ps.st.PendingPlanRun = 0 // applied or not, this plan is used up
	err = ps.apply(ctx, planfile, nil, nil, run)
	if errors.Is(err, tf.ErrPlanStale) {
		ps.log.Info("the approved plan is stale; planning again for a new approval", zap.Int64("run", run))
		return ps.converge(ctx)
	}
	if err != nil {
		return ps.fail(err, ReasonApplyFailed)
	}
	return ps.ready(ctx, true)
}

// ready records the applied generation.
func (ps *pass) ready(ctx context.Context, applied bool) outcome {
	p := ps.p
	if err := ps.credentials(ctx); err != nil {
		return ps.fail(err, ReasonApplyFailed)
	}
	octx, cancel := context.WithTimeout(ctx, ps.c.cfg.OperationTimeout)
	outputs, err := ps.c.tf.Outputs(octx, ps.tfp, ps.creds)
	cancel()
	if err != nil {
		return ps.fail(err, ReasonApplyFailed)
	}
	now := ps.c.cfg.Clock.Now().UTC()
	ps.st.Phase = store.PhaseReady
	ps.st.ObservedGeneration = p.Generation
	ps.st.ResourceCount = ps.st.PlannedResources
	ps.st.EstimatedMonthlyCostUSD = ps.st.PlannedMonthlyCostUSD
	ps.releaseReservation()
	ps.st.Outputs = outputs
	ps.st.LastVerifiedAt = &now
	if applied || ps.st.LastAppliedAt == nil {
		ps.st.LastAppliedAt = &now
	}
	ps.st.Message = ""
	ps.st.PendingPlanRun = 0
	ps.st.Attempts, ps.st.NextAttemptAt, ps.st.LastError = 0, nil, ""
	msg := fmt.Sprintf("generation %d applied", p.Generation)
	if ps.drift && applied {
		msg = fmt.Sprintf("generation %d re-applied after drift", p.Generation)
	}
	setCondition(&ps.st, condTrue(CondReady, ReasonApplied, msg, p.Generation), now)
	ps.updateExpiringSoon()
	ps.log.Info("project ready", zap.Int("resources", ps.st.ResourceCount), zap.Float64("monthly_usd", ps.st.EstimatedMonthlyCostUSD))
	return outcome{nextDue: ps.nextDue()}
}

// plan produces a saved plan and its cost, recorded as a run. With
// requireApproval the planfile is kept with the run, for apply on any
// replica once approved. The plan is cancelled if a client write makes it
// pointless.
func (ps *pass) plan(ctx context.Context) (*tf.Plan, cost.Estimate, store.RunRef, error) {
	var plan *tf.Plan
	var est cost.Estimate
	ref, err := ps.recordRun(ctx, store.OpPlan, func(opCtx context.Context, ref store.RunRef) (store.RunResult, error) {
		var err error
		plan, err = ps.c.tf.Plan(opCtx, ps.tfp, ps.creds)
		if err != nil {
			return store.RunResult{}, err
		}
		est = ps.c.cfg.Estimator.Estimate(ps.p.Spec.Region, plan.Summary.Resources)
		total := est.MonthlyUSD
		res := store.RunResult{PlanSummary: plan.Summary, CostEstimate: est, EstimatedMonthlyCostUSD: &total, LogTail: plan.Log}
		if (ps.p.Spec.RequireApproval || adoptionWouldDestroy(plan, ps.tfp.Imports) != "") && plan.Summary.HasChanges() {
			// Kept for approval: what it creates is recorded with it,
			// and copied to the apply run that applies it.
			if err := ps.recordCreations(opCtx, ref.RowID, creationRecords(plan), 0); err != nil {
				return store.RunResult{}, err
			}
			res.Planfile = plan.Bytes
		}
		return res, nil
	})
	return plan, est, ref, err
}

// apply applies exactly a saved plan. Its run row, written before
// terraform starts, is the "apply started" marker: if this process dies
// mid-apply, the next reconciler finds the run unfinished and re-plans
// from state rather than trusting the status. What the plan creates is
// recorded with the run before terraform starts (creates, or what the
// approved plan run fromPlanRun recorded), and dropped once it succeeds.
func (ps *pass) apply(ctx context.Context, planfile []byte, summary any, creates []store.CreationRecord, fromPlanRun int64) error {
	ps.setPhase(ctx, store.PhaseApplying, condFalse(CondReady, ReasonApplying, "applying generation "+fmt.Sprint(ps.p.Generation), ps.p.Generation))
	ref, err := ps.recordRun(ctx, store.OpApply, func(opCtx context.Context, ref store.RunRef) (store.RunResult, error) {
		if err := ps.recordCreations(opCtx, ref.RowID, creates, fromPlanRun); err != nil {
			return store.RunResult{}, err
		}
		res, err := ps.c.tf.ApplySaved(opCtx, ps.tfp, planfile, ps.creds)
		if err != nil {
			return store.RunResult{}, err
		}
		return store.RunResult{PlanSummary: summary, LogTail: res.Log}, nil
	})
	if err == nil {
		ps.resolveCreations(ctx, ref.RowID)
	}
	return err
}

// destroy takes the deletion path (finalizer): terraform destroy, then the
// workspace's state, then the row, leaving a tombstone. A state holding no
// resources needs no terraform at all. A failure keeps the row, shows a
// DestroyFailed condition and retries with backoff; after
// DestroyStateOnlyAfter failures the destroy runs from state alone, never
// evaluating the tenant's configuration. A forced destroy removes the row
// even if the state-only destroy fails.
func (ps *pass) destroy(ctx context.Context, reason, why string, stateOnly bool) outcome {
	p := ps.p
	if ps.st.Phase != store.PhaseDestroying {
		ps.st.Attempts, ps.st.NextAttemptAt = 0, nil
	}
	ps.st.PendingPlanRun = 0
	ps.setPhase(ctx, store.PhaseDestroying, condFalse(CondReady, reason, why, p.Generation))
	ps.st.Message = why

	// The state lock is held from reading the state to dropping it: no
	// apply can write it meanwhile.
	unlock, err := ps.lockState(ctx, store.OpDestroy)
	if err != nil {
		return ps.destroyFailed(err)
	}
	defer unlock()
	workspace := tf.WorkspaceName(p.UserID, p.ProjectID)
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	raw, exists, err := ps.c.store.TerraformState(dctx, ps.c.cfg.StateSchema, workspace)
	cancel()
	if err != nil {
		return ps.destroyFailed(err)
	}
	var resources []tf.StateResource
	if exists {
		if resources, err = tf.ParseState(raw); err != nil {
			return ps.destroyFailed(err)
		}
	}
	// What an interrupted apply created but never recorded is not in the
	// state: terraform destroy would leave it behind.
	if _, err := ps.recoverCreations(ctx, nil); err != nil && !p.ForceDestroy {
		return ps.destroyFailed(err)
	}
	if len(resources) > 0 {
		target := ps.tfp
		if stateOnly {
			target = tf.StateOnly(ps.tfp)
			ps.log.Warn("destroying from state alone, without the tenant's configuration",
				zap.Bool("forced", p.ForceDestroy), zap.Int("attempts", ps.st.Attempts))
		}
		_, err := ps.recordRun(ctx, store.OpDestroy, func(opCtx context.Context, _ store.RunRef) (store.RunResult, error) {
			res, err := ps.c.tf.Destroy(opCtx, target, ps.creds)
			if reason, _ := classify(err); reason == ReasonPolicy && !stateOnly {
				// The spec fails the policy (stored before the policy was
				// tightened, or it never passed): destroy what the state
				// holds without running the tenant's configuration at all.
				ps.log.Warn("spec violates the policy; destroying from state alone", zap.Error(err))
				res, err = ps.c.tf.Destroy(opCtx, tf.StateOnly(ps.tfp), ps.creds)
			}
			if err != nil {
				return store.RunResult{}, err
			}
			return store.RunResult{LogTail: res.Log}, nil
		})
		if err != nil && !p.ForceDestroy {
			return ps.destroyFailed(err)
		}
		if err != nil {
			why = fmt.Sprintf("forced removal: the destroy failed (%s); resources left behind are reported as orphans", describe(err))
			ps.log.Warn("forced destroy failed; removing the project anyway", zap.Error(err))
		}
	}
	dctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
	defer cancel()
	if err := ps.c.store.DropTerraformState(dctx, store.StateDrop{Schema: ps.c.cfg.StateSchema, Workspace: workspace,
		Key: p.Key, Token: ps.token, UID: p.UID}); err != nil {
		return ps.destroyFailed(fmt.Errorf("cannot drop the terraform workspace: %w", err))
	}
	if err := ps.c.tf.RemoveWorkdir(dctx, ps.tfp); err != nil {
		ps.log.Warn("cannot remove the project's work directory", zap.Error(err)) // a cache: not worth a retry
	}
	ps.st.Message = why
	ps.st.ResourceCount, ps.st.EstimatedMonthlyCostUSD = 0, 0
	ps.releaseReservation()
	setCondition(&ps.st, condTrue(CondDestroyed, reason, why, p.Generation), ps.c.cfg.Clock.Now())
	ps.capStatus()
	if err := ps.c.store.DeleteFinalized(dctx, p.Key, ps.token, p.UID, reason, ps.st, ps.c.cfg.Clock.Now()); err != nil {
		// Destroyed but the row remains: the next pass finds an empty
		// state and retries the removal.
		return ps.destroyFailed(fmt.Errorf("cannot remove the project row: %w", err))
	}
	return outcome{deleted: true}
}

// destroyFailed keeps the project Destroying, visible with the diagnostic,
// and retries with backoff.
func (ps *pass) destroyFailed(err error) outcome {
	ps.st.Phase = store.PhaseDestroying
	ps.st.Attempts++
	delay := ps.c.backoff(ps.st.Attempts)
	next := ps.c.cfg.Clock.Now().Add(delay).UTC()
	ps.st.NextAttemptAt = &next
	ps.st.LastError = describe(err)
	hint := fmt.Sprintf("retrying in %s", delay.Round(time.Second))
	if ps.st.Attempts >= ps.c.cfg.DestroyStateOnlyAfter {
		hint += " from state alone; fix the spec with a PUT, or an admin can force it with DELETE ?force=true"
	}
	ps.st.Message = fmt.Sprintf("destroy attempt %d failed; %s", ps.st.Attempts, hint)
	setCondition(&ps.st, condTrue(CondDestroyFailed, ReasonDestroyFailed, ps.st.LastError, ps.p.Generation), ps.now)
	setCondition(&ps.st, condFalse(CondReady, ReasonDestroyFailed, ps.st.LastError, ps.p.Generation), ps.now)
	ps.log.Warn("destroy failed", zap.Int("attempts", ps.st.Attempts), zap.Duration("retry_in", delay), zap.Error(err))
	return outcome{nextDue: next}
}

// recordRun wraps one terraform operation in a run row, under the
// operation deadline (TF_OPERATION_TIMEOUT). A plan may also be cancelled
// by a client write that makes it pointless.
func (ps *pass) recordRun(ctx context.Context, op string, do func(opCtx context.Context, ref store.RunRef) (store.RunResult, error)) (store.RunRef, error) {
	if err := ps.credentials(ctx); err != nil {
		return store.RunRef{}, err
	}
	if op != store.OpPlan {
		unlock, err := ps.lockState(ctx, op)
		if err != nil {
			return store.RunRef{}, err
		}
		defer unlock()
	}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	ref, err := ps.c.store.StartRun(dctx, ps.p, ps.token, op, ps.runReason, ps.id, ps.c.cfg.Owner, ps.c.cfg.Clock.Now())
	cancel()
	if err != nil {
		return ref, fmt.Errorf("cannot record the start of %s: %w", op, err)
	}
	opCtx, cancelOp := context.WithTimeout(ctx, ps.c.cfg.OperationTimeout)
	defer cancelOp()
	ps.flight.mu.Lock()
	ps.flight.op, ps.flight.cancelOp = op, cancelOp
	ps.flight.mu.Unlock()

	started := time.Now()
	live := ps.startLiveLog(ref.RowID)
	res, opErr := do(withLiveLog(opCtx, live), ref)
	live.close() // before FinishRun: a finished run takes no more chunks
	ps.c.cfg.Metrics.ObserveTerraform(op, time.Since(started))

	ps.flight.mu.Lock()
	superseded := ps.flight.superseded && op == store.OpPlan
	ps.flight.op, ps.flight.cancelOp, ps.flight.superseded = "", nil, false
	ps.flight.mu.Unlock()
	switch {
	case opErr == nil:
	case superseded:
		opErr = errSuperseded
	case errors.Is(opCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		opErr = ps.c.deadlineError(op, opErr)
	}

	res.PlanSummary = boundPlanSummary(res.PlanSummary)
	res.Outcome = store.OutcomeSucceeded
	if opErr != nil {
		setFailed(&res, opErr)
		res.Planfile = nil
		if why, ok := leaseInterruption(ctx); ok {
			res.Outcome, res.Error = store.OutcomeInterrupted, why+"\n"+res.Error
		}
	}
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
	defer wcancel()
	if err := ps.c.store.FinishRun(wctx, ref.RowID, res, ps.c.cfg.Clock.Now()); err != nil {
		ps.log.Error("cannot record the end of a run", zap.Int64("run", ref.Number), zap.Error(err))
		if opErr == nil {
			return ref, fmt.Errorf("cannot record the end of %s: %w", op, err)
		}
	}
	ps.log.Info("terraform "+op, zap.Int64("run", ref.Number), zap.String("outcome", res.Outcome),
		zap.Duration("duration", time.Since(started)))
	if op == store.OpApply && opErr != nil {
		ps.holdWhatStateHolds(ctx) // still under the state lock
	}
	return ref, opErr
}

// credentials fetches the project's AWS credentials for one terraform
// operation, valid for at least its deadline and a margin (the provider
// caches them, and refreshes them when too little validity is left): a
// pass runs several operations, each up to TF_OPERATION_TIMEOUT. A refusal
// by AWS is terminal (CredentialsDenied, with AWS's message); throttling
// backs off.
func (ps *pass) credentials(ctx context.Context) error {
	creds, err := ps.c.credentialsFor(ctx, ps.p.UserID, ps.p.ProjectID)
	if err != nil {
		return err
	}
	ps.creds = creds
	return nil
}

// credentialsFor is a project's AWS credentials for one terraform
// operation (see pass.credentials); nil without a credentials source.
func (c *Controller) credentialsFor(ctx context.Context, userID, projectID string) (*tf.Credentials, error) {
	if c.cfg.Credentials == nil {
		return nil, nil
	}
	creds, err := c.cfg.Credentials.ForOperation(ctx, userID, projectID, c.cfg.OperationTimeout+credentialsMargin)
	if aws.IsDenied(err) {
		return nil, fmt.Errorf("%w: %w", ErrCredentialsDenied, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot get the project's AWS credentials: %w", err)
	}
	return creds, nil
}

// deadlineError is what an operation that ran out of TF_OPERATION_TIMEOUT
// failed with: the deadline limit, with terraform's output when err has it.
func (c *Controller) deadlineError(op string, err error) error {
	var cmdErr *tf.CommandError
	errors.As(err, &cmdErr)
	return &tf.LimitError{Limit: tf.LimitDeadline, Value: c.cfg.OperationTimeout.String(), Op: op, Cmd: cmdErr}
}

// setFailed marks res failed with err, and keeps terraform's log tail and
// diagnostics when err carries them.
func setFailed(res *store.RunResult, err error) {
	res.Outcome = store.OutcomeFailed
	res.Error = describe(err)
	var cmdErr *tf.CommandError
	if errors.As(err, &cmdErr) {
		res.LogTail = cmdErr.LogTail
		if len(cmdErr.Diagnostics) > 0 {
			res.Diagnostics = cmdErr.Diagnostics
		}
	}
}

// limits are the user's quota and the project's ceiling, from the
// configuration and the user's override.
func (ps *pass) limits(ctx context.Context) (maxResources int, ceiling float64, err error) {
	return ps.c.limits(ctx, ps.p.UserID, ps.p.Spec)
}

// limits are a user's quota and the ceiling of a project with spec.
func (c *Controller) limits(ctx context.Context, userID string, spec store.Spec) (maxResources int, ceiling float64, err error) {
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	override, err := c.store.GetQuotaOverride(dctx, userID)
	if err != nil {
		return 0, 0, err
	}
	maxResources = c.cfg.MaxResourcesPerUser
	if override.MaxResources != nil {
		maxResources = *override.MaxResources
	}
	ceiling = c.cfg.MaxCostPerProjectUSD
	if override.MaxMonthlyCostUSD != nil {
		ceiling = *override.MaxMonthlyCostUSD
	}
	// The API always stores a concrete ceiling; 0 means "free resources only".
	if spec.MaxMonthlyCostUSD >= 0 && spec.MaxMonthlyCostUSD < ceiling {
		ceiling = spec.MaxMonthlyCostUSD
	}
	return maxResources, ceiling, nil
}

// admit checks the plan against the project's cost ceiling, then reserves
// its resources and cost against the user's quota and the platform budget
// in one transaction (store.Admit). It returns the Blocked outcome, or nil
// when the plan may be applied.
func (ps *pass) admit(ctx context.Context, resources []tf.PlannedResource, est cost.Estimate) *outcome {
	maxResources, ceiling, err := ps.limits(ctx)
	if err != nil {
		o := ps.fail(err, ReasonPlanFailed)
		return &o
	}
	if est.MonthlyUSD > ceiling {
		return ps.blocked(ReasonBudget, overCeiling(est.MonthlyUSD, ceiling))
	}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	res, err := ps.c.store.Admit(dctx, ps.p.Key, ps.token, store.Admission{Resources: len(resources), MonthlyUSD: est.MonthlyUSD,
		MaxResources: maxResources, BudgetUSD: ps.c.cfg.CostBudgetLimitUSD})
	if err != nil {
		o := ps.fail(err, ReasonPlanFailed)
		return &o
	}
	if blocked := ps.refusal(res, len(resources), est.MonthlyUSD, maxResources); blocked != nil {
		return blocked
	}
	ps.st.ReservedResources, ps.st.ReservedMonthlyCostUSD = len(resources), est.MonthlyUSD
	setCondition(&ps.st, condTrue(CondAdmitted, ReasonWithinLimit,
		fmt.Sprintf("%d resource(s), $%.2f/month", len(resources), est.MonthlyUSD), ps.p.Generation), ps.now)
	return nil
}

// refusal turns a refused admission into the Blocked outcome.
func (ps *pass) refusal(res store.AdmissionResult, resources int, monthly float64, maxResources int) *outcome {
	if reason, msg := ps.c.refusal(ps.p.UserID, res, resources, monthly, maxResources); reason != "" {
		return ps.blocked(reason, msg)
	}
	return nil
}

// refusal explains a refused admission: its reason and message ("" when
// it was admitted).
func (c *Controller) refusal(userID string, res store.AdmissionResult, resources int, monthly float64, maxResources int) (reason, msg string) {
	switch {
	case res.OverQuota:
		return ReasonQuota, fmt.Sprintf(
			"this project would have %d resources and user %s's other projects have or reserved %d: %d in all, over the limit of %d",
			resources, userID, res.OthersResources, res.OthersResources+resources, maxResources)
	case res.OverBudget:
		return ReasonBudget, fmt.Sprintf(
			"estimated cost $%.2f/month plus $%.2f/month of all other projects exceeds the platform budget of $%.2f/month",
			monthly, res.OthersMonthlyUSD, c.cfg.CostBudgetLimitUSD)
	}
	return "", ""
}

// overCeiling explains a cost over the project's ceiling.
func overCeiling(monthly, ceiling float64) string {
	return fmt.Sprintf("estimated cost $%.2f/month is over the project's ceiling of $%.2f/month", monthly, ceiling)
}

// blockedWait looks, without terraform, whether the last refused plan fits
// now (another project released room, the quota was raised). Only then is
// the project planned again: a Blocked project costs no terraform run per
// resync.
func (ps *pass) blockedWait(ctx context.Context) outcome {
	if c, ok := findCondition(ps.st, CondReady); ok && c.Reason == ReasonCostUnknown {
		return ps.idle() // only a new configuration can make the cost known
	}
	maxResources, ceiling, err := ps.limits(ctx)
	if err != nil {
		return ps.fail(err, ReasonPlanFailed)
	}
	if ps.st.PlannedMonthlyCostUSD > ceiling {
		return ps.idle()
	}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	res, err := ps.c.store.Admit(dctx, ps.p.Key, ps.token, store.Admission{Resources: ps.st.PlannedResources,
		MonthlyUSD: ps.st.PlannedMonthlyCostUSD, MaxResources: maxResources, BudgetUSD: ps.c.cfg.CostBudgetLimitUSD, DryRun: true})
	cancel()
	if err != nil {
		return ps.fail(err, ReasonPlanFailed)
	}
	if !res.Admitted {
		return ps.idle()
	}
	ps.log.Info("the refused plan fits now; planning again")
	ps.runReason = "Unblocked"
	return ps.converge(ctx)
}

func (ps *pass) blocked(reason, msg string) *outcome {
	ps.st.Phase = store.PhaseBlocked
	ps.st.Message = msg
	ps.st.LastError = ""
	ps.st.Attempts, ps.st.NextAttemptAt = 0, nil
	ps.releaseReservation()
	setCondition(&ps.st, condFalse(CondAdmitted, reason, msg, ps.p.Generation), ps.now)
	setCondition(&ps.st, condFalse(CondReady, reason, msg, ps.p.Generation), ps.now)
	ps.log.Info("plan refused by admission", zap.String("reason", reason), zap.String("detail", msg))
	return &outcome{nextDue: ps.nextDue()}
}

// Status and run size caps: GET and list responses stay small whatever the
// tenant's configuration produces.
const (
	maxLastErrorBytes = 8 << 10
	maxMessageBytes   = 2 << 10
	// maxPlanSummaryBytes bounds the plan summary kept with a run (a
	// count = 100000 would otherwise store every planned resource).
	maxPlanSummaryBytes = 256 << 10
)

// truncatedPlanSummary replaces a plan summary over maxPlanSummaryBytes:
// the counts stay, the resource list goes.
type truncatedPlanSummary struct {
	Add       int  `json:"add"`
	Change    int  `json:"change"`
	Destroy   int  `json:"destroy"`
	Resources int  `json:"resourceCount"`
	Truncated bool `json:"truncated"`
	Bytes     int  `json:"bytes"`
}

// boundPlanSummary keeps a run's plan summary under maxPlanSummaryBytes.
func boundPlanSummary(v any) any {
	sum, ok := v.(tf.PlanSummary)
	if !ok {
		return v
	}
	b, err := json.Marshal(sum)
	if err != nil || len(b) <= maxPlanSummaryBytes {
		return v
	}
	return truncatedPlanSummary{Add: sum.Add, Change: sum.Change, Destroy: sum.Destroy,
		Resources: len(sum.Resources), Truncated: true, Bytes: len(b)}
}

// capStatus bounds the free-text fields of the status.
func (ps *pass) capStatus() {
	ps.st.LastError = truncate(ps.st.LastError, maxLastErrorBytes)
	ps.st.Message = truncate(ps.st.Message, maxMessageBytes)
	for i := range ps.st.Conditions {
		ps.st.Conditions[i].Message = truncate(ps.st.Conditions[i].Message, maxMessageBytes)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && (s[cut]&0xC0) == 0x80 { // keep UTF-8 whole
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes more)", len(s)-cut)
}
