package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
)

// Leases and state locks of a pass.
//
// A pass owns its project while it holds the lease, which lasts
// LeaseDuration on the database's clock from each renewal. The lease is
// only worth something if its holder stops writing before it can expire:
// a pass that cannot renew within RenewDeadline of its last successful
// renewal (the database is unreachable, the connection was cut) cancels
// its terraform operation, which gets SIGINT and is killed StopGrace
// later, so that terraform has stopped before any other replica can claim
// the project. Every apply, destroy and state drop also holds the
// project's state lock row, renewed with the lease (store.RenewLease):
// unlike terraform's own session lock, it survives a database restart.

// errLeaseNotRenewed is the cause of a pass cancelled because its lease
// could not be renewed in time.
var errLeaseNotRenewed = errors.New("lease could not be renewed")

// stopMargin is kept free at the end of a lease beyond the stop grace: the
// kill itself, the reaping of terraform's processes, and the time a
// renewal statement took to reach the database (the lease runs from the
// statement, the pass counts from before it was sent).
const stopMargin = 2 * time.Second

// giveUpAfter is how long after its last successful renewal a pass keeps
// trying to renew: RenewDeadline, or less when the stop grace would not
// fit in the rest of the lease. A lease too short to hold a renewal and
// the stop grace (the command refuses such a configuration) keeps
// RenewDeadline: giving up before the first renewal would stop every pass.
func (c *Controller) giveUpAfter() time.Duration {
	d := min(c.cfg.RenewDeadline, c.cfg.LeaseDuration-c.cfg.StopGrace-stopMargin)
	if d <= c.cfg.LeaseDuration/3 {
		return c.cfg.RenewDeadline
	}
	return d
}

// renewRetry is the pause between failed renewals.
func (c *Controller) renewRetry() time.Duration {
	return max(min(c.cfg.LeaseDuration/15, 5*time.Second), 100*time.Millisecond)
}

// renewLease keeps the claim alive while the pass runs (keepLease, with
// the project's lease). Each renewal also notices client writes that a lost
// notification did not announce.
func (c *Controller) renewLease(ctx context.Context, p store.Project, f *flight, validFrom time.Time,
	cancel context.CancelCauseFunc, lost chan<- error, log *zap.Logger) {
	c.keepLease(ctx, validFrom, func(rctx context.Context) error {
		view, err := c.store.RenewLease(rctx, p.Key, p.LeaseToken, c.cfg.LeaseDuration)
		if err == nil {
			f.supersedeIfStale(view.Generation, view.DeletionRequested)
		}
		return err
	}, cancel, lost, log)
}

// keepLease renews a lease (renew) while its work runs. validFrom is a
// time (on the reconciler's clock) before the lease was last set: it lasts
// at least LeaseDuration from then. Renewals happen every third of the
// lease; a failed one is retried, but only until the renew deadline: then
// the work is cancelled with errLeaseNotRenewed, which interrupts its
// terraform. If the lease was lost (renew returns store.ErrLeaseLost:
// another claim took it) the work is cancelled with that. Either reason is
// sent on lost first, when lost is not nil. Projects and speculative plans
// share it, so both stop their terraform before their lease can expire.
func (c *Controller) keepLease(ctx context.Context, validFrom time.Time, renew func(context.Context) error,
	cancel context.CancelCauseFunc, lost chan<- error, log *zap.Logger) {
	stop := func(cause error) {
		if lost != nil {
			lost <- cause
		}
		cancel(cause)
	}
	giveUp := c.giveUpAfter()
	next := validFrom.Add(c.cfg.LeaseDuration / 3)
	for {
		deadline := validFrom.Add(giveUp)
		if next.After(deadline) {
			next = deadline
		}
		select {
		case <-ctx.Done():
			return
		case <-c.cfg.Clock.After(next.Sub(c.cfg.Clock.Now())):
		}
		attempt := c.cfg.Clock.Now()
		if !attempt.Before(deadline) {
			log.Error("cannot renew the lease in time: interrupting terraform before the lease can expire",
				zap.Time("last_renewed", validFrom), zap.Duration("renew_deadline", giveUp),
				zap.Duration("lease", c.cfg.LeaseDuration))
			stop(errLeaseNotRenewed)
			return
		}
		rctx, rcancel := context.WithTimeout(ctx, min(dbTimeout, deadline.Sub(attempt)))
		err := renew(rctx)
		rcancel()
		if errors.Is(err, store.ErrLeaseLost) {
			stop(store.ErrLeaseLost)
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("cannot renew lease; retrying until the renew deadline", zap.Time("deadline", deadline), zap.Error(err))
			}
			next = c.cfg.Clock.Now().Add(c.renewRetry())
			continue
		}
		validFrom = attempt
		next = validFrom.Add(c.cfg.LeaseDuration / 3)
	}
}

// leaseInterruption says whether ctx was cancelled because the pass could
// not renew its lease, and how to tell it in the run history.
func leaseInterruption(ctx context.Context) (string, bool) {
	if errors.Is(context.Cause(ctx), errLeaseNotRenewed) {
		return "interrupted: the lease could not be renewed in time, so terraform was stopped before another reconciler could take the project over", true
	}
	return "", false
}

// lockState takes the project's state lock for an apply, a destroy or the
// finalizer's state drop, unless the pass holds it already. The returned
// function releases what this call took (a lock row left behind by a
// failed release expires with the lease).
func (ps *pass) lockState(ctx context.Context, op string) (release func(), err error) {
	if ps.stateLocked {
		return func() {}, nil
	}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	err = ps.c.store.AcquireStateLock(dctx, ps.p.Key, ps.token, ps.c.cfg.Owner, op, ps.c.cfg.LeaseDuration)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("cannot lock the project's state for %s: %w", op, err)
	}
	ps.stateLocked = true
	return func() {
		ps.stateLocked = false
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
		defer cancel()
		if err := ps.c.store.ReleaseStateLock(wctx, ps.p.Key, ps.token); err != nil {
			ps.log.Warn("cannot release the state lock; it expires with the lease", zap.Error(err))
		}
	}, nil
}

// heldByAnother refuses to take over a project whose state lock another
// reconciler still holds: its terraform may still be running, so its open
// runs must not be abandoned yet.
func (ps *pass) heldByAnother(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	lock, held, err := ps.c.store.StateLockHeld(dctx, ps.p.Key, ps.token)
	if err != nil {
		return err
	}
	if held {
		return &store.StateLockedError{Key: ps.p.Key, Lock: lock}
	}
	return nil
}
