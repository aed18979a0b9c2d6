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
)

// statusWriteTimeout bounds status and run writes, which use a context of
// their own so that a project's outcome is recorded even when the terraform
// operation was cut short by shutdown or its deadline.
const statusWriteTimeout = 10 * time.Second

// pass is one reconcile of one claimed project.
type pass struct {
	c      *Controller
	p      store.Project // as claimed: the level we reconcile to
	token  string        // the claim's lease token; every write is fenced on it
	st     store.Status  // the status being built
	id     string        // reconcile id, in logs and runs
	log    *zap.Logger
	now    time.Time
	tfp    tf.Project
	creds  *tf.Credentials
	flight *flight
	// stateLocked: the pass holds the project's state lock row.
	stateLocked bool
	// runReason says why terraform runs in this pass (Spec, Drift,
	// Recovery, Approved, Expired, Deleted); it is recorded with each run.
	runReason string
	drift     bool
	// retriedOwned: this pass already re-planned once after an apply
	// found a bucket it creates existing (BucketAlreadyOwnedByYou).
	retriedOwned bool
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

	f := c.track(p)
	defer func() {
		c.mu.Lock()
		delete(c.inFlight, p.Key)
		c.cfg.Metrics.SetLeasesHeld(len(c.inFlight))
		c.mu.Unlock()
	}()

	ctx, cancel := context.WithCancelCause(workCtx)
	defer cancel(nil)
	leaseLost := make(chan error, 1)
	go c.renewLease(ctx, p, f, c.claimTime(p.Key), cancel, leaseLost, log)

	started := time.Now()
	c.cfg.Metrics.ObserveStartLatency(p.DueAt, c.cfg.Clock.Now())
	ps := &pass{c: c, p: p, token: p.LeaseToken, st: p.Status, id: id, log: log, now: c.cfg.Clock.Now(), flight: f}
	out := ps.reconcile(ctx)

	wctx, wcancel := context.WithTimeout(context.WithoutCancel(workCtx), statusWriteTimeout)
	defer wcancel()
	select {
	case why := <-leaseLost:
		c.cfg.Metrics.ObserveReconcile("lease_lost", time.Since(started))
		if !errors.Is(why, errLeaseNotRenewed) {
			log.Warn("lease lost during reconcile; another reconciler owns the project now")
			return
		}
		// Terraform has stopped. If the database is back, hand the
		// project over at once rather than when the lease expires.
		log.Warn("reconcile interrupted: the lease could not be renewed in time; handing the project back")
		if err := c.store.ReleaseLease(wctx, p.Key, ps.token, c.cfg.Clock.Now()); err != nil {
			log.Warn("cannot hand the project back; its lease expires on its own", zap.Error(err))
		}
		return
	default:
	}
	c.cfg.Metrics.ObserveReconcile(ps.result(out), time.Since(started))
	switch {
	case out.deleted:
		log.Info("project destroyed and removed")
	case stopCtx.Err() != nil && ctx.Err() != nil:
		// Interrupted by shutdown: hand back without judging the project.
		if err := c.store.ReleaseLease(wctx, p.Key, ps.token, c.cfg.Clock.Now()); err != nil {
			log.Error("cannot hand the project back", zap.Error(err))
		}
	default:
		ps.capStatus()
		if err := c.store.FinishReconcile(wctx, p.Key, ps.token, ps.st, p.Revision, out.nextDue, c.cfg.Clock.Now()); err != nil {
			// The lease stays ours until this process claims the project
			// again (at once: a stale lease of our own is reclaimable) or
			// it expires.
			log.Error("cannot record the reconcile outcome", zap.Error(err))
		}
	}
}

// track records p as in flight in this process. The claim loop calls it
// before it starts the pass, so that the next claim, which may take back
// this replica's own leases, can never take p a second time.
func (c *Controller) track(p store.Project) *flight {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.inFlight[p.Key]; ok {
		return f
	}
	f := &flight{generation: p.Generation, deleting: p.DeletionRequestedAt != nil}
	c.inFlight[p.Key] = f
	c.cfg.Metrics.SetLeasesHeld(len(c.inFlight))
	return f
}

// result names the pass's outcome for the reconcile counter.
func (ps *pass) result(out outcome) string {
	if out.deleted {
		return "success"
	}
	if c, ok := findCondition(ps.st, CondReady); ok && c.ObservedGeneration == ps.p.Generation && ps.st.Phase == store.PhaseFailed && terminalReasons[c.Reason] {
		return "terminal"
	}
	if ps.st.NextAttemptAt != nil && (ps.st.Phase == store.PhaseRetrying || ps.st.Phase == store.PhaseDestroying) {
		return "error"
	}
	return "success"
}

// tfProject is the project as the engine needs it. Variables are JSON the
// API validated; one that does not decode would be a stored-data bug, and
// applying the project without it would be wrong, so it is an error.
func tfProject(p store.Project) (tf.Project, error) {
	tp := tf.Project{UserID: p.UserID, ProjectID: p.ProjectID, Region: p.Spec.Region,
		Files: p.Spec.Files, CreatedAt: p.CreatedAt, Variables: make(map[string]any, len(p.Spec.Variables))}
	for k, raw := range p.Spec.Variables {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return tp, fmt.Errorf("variable %q of project %s is not valid JSON: %w", k, p.Key, err)
		}
		tp.Variables[k] = v
	}
	return tp, nil
}

// reconcile observes, decides, and carries the decision out.
func (ps *pass) reconcile(ctx context.Context) outcome {
	tfp, specErr := tfProject(ps.p)
	ps.tfp = tfp
	interrupted, err := ps.recoverInterruptedRuns(ctx)
	if err != nil {
		return ps.fail(err, ReasonPlanFailed)
	}
	o := observed{p: ps.p, specOK: specErr == nil, interrupted: interrupted, now: ps.now,
		driftEvery: ps.c.cfg.DriftCheckInterval, stateOnlyAfter: ps.c.cfg.DestroyStateOnlyAfter}
	o.inventoryDrift = ps.compareInventory(ctx)
	d := decide(o)
	ps.log.Debug("decided", zap.Stringer("action", d.Action), zap.Bool("state_only", d.StateOnly))

	switch d.Action {
	case ActDestroy:
		ps.runReason = "Deleted"
		return ps.destroy(ctx, ReasonDeleted, "deletion requested", d.StateOnly)
	case ActExpire:
		ps.runReason = "Expired"
		wctx, cancel := context.WithTimeout(ctx, dbTimeout)
		err := ps.c.store.MarkExpired(wctx, ps.p.Key, ps.token, ps.p.Revision, ps.now)
		cancel()
		if errors.Is(err, store.ErrConflict) {
			// A client wrote (an extend, probably) since we read the row:
			// look again at once with what it wrote.
			return outcome{nextDue: ps.now}
		}
		if err != nil {
			return ps.fail(err, ReasonDestroyFailed)
		}
		return ps.destroy(ctx, ReasonExpired,
			fmt.Sprintf("the project's TTL ran out at %s", ps.p.ExpiresAt.Format(time.RFC3339)), d.StateOnly)
	case ActRefuse:
		return ps.terminal(ReasonInvalidSpec, specErr.Error())
	case ActPlan:
		ps.runReason = "Spec"
		if d.Recover {
			ps.runReason = "Recovery"
			ps.st.PendingPlanRun = 0
			setCondition(&ps.st, condFalse(CondReady, ReasonRecovering, "the last apply may have been partial; re-planning from state", ps.p.Generation), ps.now)
		}
		return ps.converge(ctx)
	case ActDriftCheck:
		ps.runReason, ps.drift = "Drift", true
		return ps.converge(ctx)
	case ActApplyReviewed:
		ps.runReason = "Approved"
		return ps.applyReviewed(ctx)
	case ActBlockedWait:
		return ps.blockedWait(ctx)
	case ActBackoffWait:
		return outcome{nextDue: *ps.p.Status.NextAttemptAt}
	default: // ActIdle, ActAwaitApproval
		return ps.idle()
	}
}

// recoverInterruptedRuns closes runs that a crashed reconciler left open,
// and reports whether one was an apply or destroy: that may have been
// partial, so the project is re-planned from its state whatever its status
// claims.
func (ps *pass) recoverInterruptedRuns(ctx context.Context) (partial bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	runs, err := ps.c.store.UnfinishedRuns(dctx, ps.p.UID)
	if err != nil {
		return false, err
	}
	if len(runs) > 0 {
		// The reconciler that opened them may still be stopping its
		// terraform: wait until its state lock is released or expired.
		if err := ps.heldByAnother(ctx); err != nil {
			return false, err
		}
	}
	for _, r := range runs {
		reason := fmt.Sprintf("reconciler %s stopped during this %s; superseded by reconcile %s", r.Owner, r.Operation, ps.id)
		if err := ps.c.store.AbandonRun(dctx, r.RowID, reason, ps.now); err != nil {
			return false, err
		}
		if r.Operation == store.OpApply || r.Operation == store.OpDestroy {
			partial = true
		}
		ps.log.Warn("found an interrupted terraform run; re-planning from state",
			zap.Int64("run", r.ID), zap.String("operation", r.Operation), zap.String("previous_owner", r.Owner))
	}
	return partial, nil
}

// idle: nothing for terraform to do. Refresh time-based conditions and
// sleep until the next thing due.
func (ps *pass) idle() outcome {
	ps.updateExpiringSoon()
	return outcome{nextDue: ps.nextDue()}
}

// setPhase records progress so that clients see what is happening while
// terraform runs. Failing to write it is not fatal: the final write follows.
func (ps *pass) setPhase(ctx context.Context, phase store.Phase, cond store.Condition) {
	ps.st.Phase = phase
	setCondition(&ps.st, cond, ps.c.cfg.Clock.Now())
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
	defer cancel()
	ps.capStatus()
	if err := ps.c.store.SetStatus(wctx, ps.p.Key, ps.token, ps.st); err != nil {
		ps.log.Warn("cannot record phase", zap.String("phase", string(phase)), zap.Error(err))
	}
}

// fail records a failure. One that retrying cannot fix (configuration,
// limits, credentials, policy) is terminal until the spec changes; any
// other backs off exponentially with jitter. Attempts and the next attempt
// time live in the row, so the backoff survives restarts.
func (ps *pass) fail(err error, reason string) outcome {
	if r, terminal := classify(err); terminal {
		return ps.terminal(r, describe(err))
	} else if r != "" {
		reason = r
	}
	ps.st.Attempts++
	delay := ps.c.backoff(ps.st.Attempts)
	next := ps.c.cfg.Clock.Now().Add(delay).UTC()
	ps.st.NextAttemptAt = &next
	ps.st.LastError = describe(err)
	ps.st.Message = fmt.Sprintf("attempt %d failed; retrying in %s", ps.st.Attempts, delay.Round(time.Second))
	if ps.st.Phase != store.PhaseDestroying {
		ps.st.Phase = store.PhaseRetrying
	}
	setCondition(&ps.st, condFalse(CondReady, reason, ps.st.LastError, ps.p.Generation), ps.now)
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
	ps.releaseReservation()
	setCondition(&ps.st, condFalse(CondReady, reason, msg, ps.p.Generation), ps.now)
	ps.log.Info("spec refused", zap.String("reason", reason), zap.String("detail", msg))
	return outcome{nextDue: ps.nextDue()}
}

// releaseReservation gives back what admission granted beyond what is
// applied.
func (ps *pass) releaseReservation() {
	ps.st.ReservedResources = ps.st.ResourceCount
	ps.st.ReservedMonthlyCostUSD = ps.st.EstimatedMonthlyCostUSD
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
	if last := ps.st.LastVerifiedAt; last != nil && ps.c.cfg.DriftCheckInterval > 0 && ps.st.Phase == store.PhaseReady {
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
