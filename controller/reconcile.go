package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// statusWriteTimeout bounds status and run writes, which use a context of
// their own so that a project's outcome is recorded even when the terraform
// operation was cut short by shutdown.
const statusWriteTimeout = 10 * time.Second

// pass is one reconcile of one claimed project.
type pass struct {
	c     *Controller
	p     store.Project // as claimed: the level we reconcile to
	st    store.Status  // the status being built
	id    string        // reconcile id, in logs and runs
	log   *zap.Logger
	now   time.Time
	tfp   tf.Project
	creds *tf.Credentials
	// driftCheck: the spec is applied; this pass re-plans only to find
	// drift.
	driftCheck bool
}

// outcome is what a pass decided about the project's future.
type outcome struct {
	nextDue time.Time
	deleted bool // the finalizer ran: the row is gone
}

// reconcileClaimed runs one pass on a project this controller has leased,
// renewing the lease meanwhile, and records the outcome. stopCtx is the
// controller's run context: when it is done, an interrupted pass hands the
// project back instead of counting a failure.
func (c *Controller) reconcileClaimed(workCtx, stopCtx context.Context, p store.Project) {
	id := newReconcileID()
	log := c.log.With(zap.String("user_id", p.UserID), zap.String("project_id", p.ProjectID),
		zap.String("reconcile_id", id), zap.Int64("generation", p.Generation))

	ctx, cancel := context.WithCancel(workCtx)
	defer cancel()
	leaseLost := make(chan struct{})
	go c.renewLease(ctx, p.Key, cancel, leaseLost, log)

	ps := &pass{c: c, p: p, st: p.Status, id: id, log: log, now: c.cfg.Clock.Now()}
	var out outcome
	if tfp, err := tfProject(p); err != nil {
		out = ps.terminal(ReasonInvalidSpec, err.Error())
	} else {
		ps.tfp = tfp
		out = ps.reconcile(ctx)
	}

	select {
	case <-leaseLost:
		log.Warn("lease lost during reconcile; another reconciler owns the project now")
		return
	default:
	}
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(workCtx), statusWriteTimeout)
	defer wcancel()
	switch {
	case out.deleted:
		log.Info("project destroyed and removed")
	case stopCtx.Err() != nil && ctx.Err() != nil:
		// Interrupted by shutdown: hand back without judging the project.
		if err := c.store.ReleaseLease(wctx, p.Key, c.cfg.Owner, c.cfg.Clock.Now()); err != nil {
			log.Error("cannot hand the project back", zap.Error(err))
		}
	default:
		if err := c.store.FinishReconcile(wctx, p.Key, c.cfg.Owner, ps.st, p.Revision, out.nextDue, c.cfg.Clock.Now()); err != nil {
			log.Error("cannot record the reconcile outcome", zap.Error(err))
		}
	}
}

// renewLease keeps the claim alive while the pass runs; if the lease is
// lost the pass is cancelled, since another reconciler may already be
// working on the project.
func (c *Controller) renewLease(ctx context.Context, key store.Key, cancel context.CancelFunc, lost chan<- struct{}, log *zap.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.cfg.Clock.After(c.cfg.LeaseDuration / 3):
		}
		err := c.store.RenewLease(ctx, key, c.cfg.Owner, c.cfg.Clock.Now().Add(c.cfg.LeaseDuration))
		if errors.Is(err, store.ErrLeaseLost) {
			close(lost)
			cancel()
			return
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("cannot renew lease; will retry", zap.Error(err))
		}
	}
}

// tfProject is the project as the engine needs it. Variables are JSON the
// API validated; one that does not decode would be a stored-data bug, and
// applying the project without it would be wrong, so it is an error.
func tfProject(p store.Project) (tf.Project, error) {
	vars := make(map[string]any, len(p.Spec.Variables))
	for k, raw := range p.Spec.Variables {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return tf.Project{}, fmt.Errorf("variable %q of project %s is not valid JSON: %w", k, p.Key, err)
		}
		vars[k] = v
	}
	return tf.Project{UserID: p.UserID, ProjectID: p.ProjectID, Region: p.Spec.Region,
		Files: p.Spec.Files, Variables: vars, CreatedAt: p.CreatedAt}, nil
}

// reconcile decides what the project needs, level-triggered: only from the
// row as it is now and what exists.
func (ps *pass) reconcile(ctx context.Context) outcome {
	p := ps.p
	partial, err := ps.recoverInterruptedRuns(ctx)
	if err != nil {
		return ps.fail(err, ReasonPlanFailed)
	}
	switch {
	case p.DeletionRequestedAt != nil:
		return ps.destroy(ctx, ReasonDeleted, "deletion requested")
	case !ps.now.Before(p.ExpiresAt):
		return ps.destroy(ctx, ReasonExpired, fmt.Sprintf("the project's TTL ran out at %s", p.ExpiresAt.Format(time.RFC3339)))
	}
	if !partial && !ps.needsPlan() {
		return ps.idle()
	}
	return ps.converge(ctx)
}

// needsPlan reports whether the project's spec is not yet applied and
// terraform has something to do. A spec refused for good (policy) waits
// for a new generation; one awaiting approval waits for the approval.
func (ps *pass) needsPlan() bool {
	p := ps.p
	if p.Generation == p.Status.ObservedGeneration && p.Status.Phase == store.PhaseReady {
		ps.driftCheck = ps.driftCheckDue()
		return ps.driftCheck
	}
	if c, ok := findCondition(p.Status, CondReady); ok && c.Reason == ReasonPolicy && c.ObservedGeneration == p.Generation {
		return false
	}
	if p.Status.Phase == store.PhaseAwaitingApproval && p.ApprovedGeneration != p.Generation {
		if c, ok := findCondition(p.Status, CondReady); ok && c.ObservedGeneration == p.Generation {
			return false
		}
	}
	if p.Status.Phase == store.PhaseFailed && p.Status.NextAttemptAt != nil && ps.now.Before(*p.Status.NextAttemptAt) {
		if c, ok := findCondition(p.Status, CondReady); ok && c.ObservedGeneration == p.Generation {
			return false // woken early while backing off from this very spec
		}
	}
	return true
}

// driftCheckDue reports whether the slow drift check is due.
func (ps *pass) driftCheckDue() bool {
	every := ps.c.cfg.DriftCheckInterval
	last := ps.p.Status.LastVerifiedAt
	return every > 0 && (last == nil || !ps.now.Before(last.Add(every)))
}

// recoverInterruptedRuns closes runs that a crashed reconciler left open.
// An apply that never finished may have been partial: the project is then
// re-planned from its state, whatever its status claims.
func (ps *pass) recoverInterruptedRuns(ctx context.Context) (partial bool, err error) {
	runs, err := ps.c.store.UnfinishedRuns(ctx, ps.p.UID)
	if err != nil {
		return false, err
	}
	for _, r := range runs {
		reason := fmt.Sprintf("reconciler %s stopped during this %s; superseded by reconcile %s", r.Owner, r.Operation, ps.id)
		if err := ps.c.store.AbandonRun(ctx, r.ID, reason, ps.now); err != nil {
			return false, err
		}
		if r.Operation == store.OpApply || r.Operation == store.OpDestroy {
			partial = true
		}
		ps.log.Warn("found an interrupted terraform run; re-planning from state",
			zap.Int64("run_id", r.ID), zap.String("operation", r.Operation), zap.String("previous_owner", r.Owner))
	}
	if partial {
		setCondition(&ps.st, condFalse(CondReady, ReasonRecovering, "the last apply may have been partial; re-planning from state", ps.p.Generation), ps.now)
	}
	return partial, nil
}

// idle: nothing for terraform to do. Refresh time-based conditions and
// sleep until the next thing due.
func (ps *pass) idle() outcome {
	ps.updateExpiringSoon()
	return outcome{nextDue: ps.nextDue()}
}

// converge plans, admits, and applies the current generation.
func (ps *pass) converge(ctx context.Context) outcome {
	p := ps.p
	if c, ok := findCondition(p.Status, CondReady); !ok || c.ObservedGeneration != p.Generation {
		ps.st.Attempts = 0 // a new spec starts its backoff afresh
	}
	ps.setPhase(ctx, store.PhasePlanning, condFalse(CondReady, ReasonPlanning, "planning generation "+fmt.Sprint(p.Generation), p.Generation))

	plan, est, err := ps.plan(ctx)
	if err != nil {
		var perr *policy.Error
		if errors.As(err, &perr) {
			return ps.terminal(ReasonPolicy, err.Error())
		}
		return ps.fail(err, ReasonPlanFailed)
	}

	if blocked := ps.admit(ctx, plan, est); blocked != nil {
		return *blocked
	}

	if p.Spec.RequireApproval && p.ApprovedGeneration != p.Generation {
		ps.c.keepPendingPlan(p.Key, p.Generation, plan)
		ps.st.Phase = store.PhaseAwaitingApproval
		ps.st.Message = fmt.Sprintf("plan for generation %d: %d to add, %d to change, %d to destroy, about $%.2f/month; approve it with POST .../approve {\"generation\": %d}",
			p.Generation, plan.Summary.Add, plan.Summary.Change, plan.Summary.Destroy, est.MonthlyUSD, p.Generation)
		setCondition(&ps.st, condFalse(CondReady, ReasonApproval, ps.st.Message, p.Generation), ps.now)
		ps.st.Attempts, ps.st.NextAttemptAt, ps.st.LastError = 0, nil, ""
		return outcome{nextDue: ps.nextDue()}
	}

	applied := false
	if plan.Summary.HasChanges() {
		if ps.driftCheck {
			ps.log.Warn("drift found; re-applying the spec", zap.Int("add", plan.Summary.Add),
				zap.Int("change", plan.Summary.Change), zap.Int("destroy", plan.Summary.Destroy))
		}
		ps.setPhase(ctx, store.PhaseApplying, condFalse(CondReady, ReasonApplying, "applying generation "+fmt.Sprint(p.Generation), p.Generation))
		if err := ps.apply(ctx, plan); err != nil {
			return ps.fail(err, ReasonApplyFailed)
		}
		applied = true
	}
	outputs, err := ps.c.tf.Outputs(ctx, ps.tfp, ps.creds)
	if err != nil {
		return ps.fail(err, ReasonApplyFailed)
	}
	ps.c.dropPendingPlan(p.Key)
	now := ps.c.cfg.Clock.Now().UTC()
	ps.st.Phase = store.PhaseReady
	ps.st.ObservedGeneration = p.Generation
	ps.st.ResourceCount = len(plan.Summary.Resources)
	ps.st.EstimatedMonthlyCostUSD = est.MonthlyUSD
	ps.st.Outputs = outputs
	ps.st.LastVerifiedAt = &now
	if applied || ps.st.LastAppliedAt == nil {
		ps.st.LastAppliedAt = &now
	}
	ps.st.Message = ""
	ps.st.Attempts, ps.st.NextAttemptAt, ps.st.LastError = 0, nil, ""
	msg := fmt.Sprintf("generation %d applied", p.Generation)
	if ps.driftCheck && applied {
		msg = fmt.Sprintf("generation %d re-applied after drift (%d to add, %d to change, %d to destroy)",
			p.Generation, plan.Summary.Add, plan.Summary.Change, plan.Summary.Destroy)
	}
	setCondition(&ps.st, condTrue(CondReady, ReasonApplied, msg, p.Generation), now)
	ps.updateExpiringSoon()
	ps.log.Info("project ready", zap.Int("resources", ps.st.ResourceCount), zap.Float64("monthly_usd", est.MonthlyUSD))
	return outcome{nextDue: ps.nextDue()}
}

// setPhase records progress so that clients see what is happening while
// terraform runs. Failing to write it is not fatal: the final write follows.
func (ps *pass) setPhase(ctx context.Context, phase store.Phase, cond store.Condition) {
	ps.st.Phase = phase
	setCondition(&ps.st, cond, ps.c.cfg.Clock.Now())
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
	defer cancel()
	if err := ps.c.store.SetStatus(wctx, ps.p.Key, ps.c.cfg.Owner, ps.st); err != nil {
		ps.log.Warn("cannot record phase", zap.String("phase", string(phase)), zap.Error(err))
	}
}

// fail records a retryable failure with capped exponential backoff and
// jitter; attempts and the next attempt time live in the row, so the
// backoff survives restarts.
func (ps *pass) fail(err error, reason string) outcome {
	if errors.Is(err, tf.ErrStateLocked) {
		reason = ReasonLocked
	}
	ps.st.Attempts++
	delay := ps.c.backoff(ps.st.Attempts)
	next := ps.c.cfg.Clock.Now().Add(delay).UTC()
	ps.st.NextAttemptAt = &next
	ps.st.LastError = err.Error()
	ps.st.Message = fmt.Sprintf("attempt %d failed; retrying in %s", ps.st.Attempts, delay.Round(time.Second))
	if ps.st.Phase != store.PhaseDestroying {
		ps.st.Phase = store.PhaseFailed
	}
	setCondition(&ps.st, condFalse(CondReady, reason, err.Error(), ps.p.Generation), ps.now)
	ps.log.Warn("reconcile failed", zap.String("reason", reason), zap.Int("attempts", ps.st.Attempts),
		zap.Duration("retry_in", delay), zap.Error(err))
	return outcome{nextDue: next}
}

// terminal records a failure that retrying cannot fix: the project waits
// for a new generation of its spec.
func (ps *pass) terminal(reason, msg string) outcome {
	ps.st.Phase = store.PhaseFailed
	ps.st.LastError = msg
	ps.st.Message = "the spec cannot be applied; change it to retry"
	ps.st.Attempts, ps.st.NextAttemptAt = 0, nil
	setCondition(&ps.st, condFalse(CondReady, reason, msg, ps.p.Generation), ps.now)
	ps.log.Info("spec refused", zap.String("reason", reason), zap.String("detail", msg))
	return outcome{nextDue: ps.nextDue()}
}

// backoff is base·2^(attempts-1), capped, with up to 20% jitter so that
// failures of many projects do not retry in lockstep.
func (c *Controller) backoff(attempts int) time.Duration {
	d := c.cfg.BackoffBase
	for i := 1; i < attempts && d < c.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.BackoffMax)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// nextDue is when the project must be looked at again, absent any change:
// the resync, its expiry, or the moment it starts expiring soon.
func (ps *pass) nextDue() time.Time {
	now := ps.c.cfg.Clock.Now()
	next := now.Add(ps.c.cfg.ResyncInterval)
	if ps.p.ExpiresAt.Before(next) {
		next = ps.p.ExpiresAt
	}
	if soon := ps.expiringSoonAt(); soon.After(now) && soon.Before(next) {
		next = soon
	}
	if last := ps.st.LastVerifiedAt; last != nil && ps.c.cfg.DriftCheckInterval > 0 {
		if check := last.Add(ps.c.cfg.DriftCheckInterval); check.Before(next) {
			next = check
		}
	}
	return next
}

func (ps *pass) expiringSoonAt() time.Time {
	ttl := ps.p.ExpiresAt.Sub(ps.p.CreatedAt)
	return ps.p.ExpiresAt.Add(-time.Duration(float64(ttl) * ps.c.cfg.ExpiringSoonFraction))
}

// updateExpiringSoon raises ExpiringSoon when less than the configured
// fraction of the TTL is left.
func (ps *pass) updateExpiringSoon() {
	now := ps.c.cfg.Clock.Now()
	if !now.Before(ps.expiringSoonAt()) {
		setCondition(&ps.st, condTrue(CondExpiringSoon, ReasonTTL,
			fmt.Sprintf("expires at %s; extend it to keep it", ps.p.ExpiresAt.Format(time.RFC3339)), ps.p.Generation), now)
	} else if _, ok := findCondition(ps.st, CondExpiringSoon); ok {
		setCondition(&ps.st, condFalse(CondExpiringSoon, ReasonTTLOK, "", ps.p.Generation), now)
	}
}

func (c *Controller) keepPendingPlan(key store.Key, gen int64, plan *tf.Plan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pendingPlans[key] = pendingPlan{generation: gen, plan: plan}
}

func (c *Controller) dropPendingPlan(key store.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pendingPlans, key)
}
