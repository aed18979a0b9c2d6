package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// ageLeaseInDB moves the database's clock forward by d for the project's
// lease and state lock: what d of real time does to them.
func ageLeaseInDB(t *testing.T, h *harness, key store.Key, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.fake.pool.Exec(ctx, `UPDATE projects SET lease_expires_at = lease_expires_at - make_interval(secs => $3::float8)
		WHERE user_id = $1 AND project_id = $2 AND lease_expires_at IS NOT NULL`, key.UserID, key.ProjectID, d.Seconds()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.fake.pool.Exec(ctx, `UPDATE project_locks SET expires_at = expires_at - make_interval(secs => $3::float8)
		WHERE user_id = $1 AND project_id = $2`, key.UserID, key.ProjectID, d.Seconds()); err != nil {
		t.Fatal(err)
	}
}

// A slow plan keeps its lease. A plan of the real aws provider takes
// minutes on a loaded machine: many lease durations. The lease runs on the
// database's clock, so the pass renews it while terraform runs; the apply
// after the plan takes the state lock only if the lease is still live.
// Here the database's clock moves with the reconciler's (the lease ages
// as the fake clock advances), through a plan three leases
// long: the apply must find its lease kept by the renewals. Without them
// (as in a harness whose clock stands still during a pass while the
// database's runs on) the apply fails with "cannot lock the project's
// state for apply: lease lost", which is how the realistic corpus failed.
func TestASlowPlanKeepsItsLeaseAndApplies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	key := h.key("sam", "slow")
	planFor, step := 3*h.cfg.LeaseDuration, h.cfg.LeaseDuration/12
	h.fake.planHook = func(ctx context.Context, p tf.Project) error {
		for end := h.clock.Now().Add(planFor); h.clock.Now().Before(end); {
			// The renewal loop waits on the clock between renewals: time
			// moves on only once it does, so each renewal due is made
			// before the database's clock moves on.
			for deadline := time.Now().Add(time.Minute); h.clock.pending() == 0; {
				if time.Now().After(deadline) {
					t.Error("the lease renewal stopped waiting on the clock during the plan")
					return nil
				}
				time.Sleep(time.Millisecond)
			}
			h.clock.Advance(step)
			ageLeaseInDB(t, h, key, step)
		}
		return nil
	}
	h.put("sam", "slow", oneResource())
	h.reconcileDue()

	p := h.get("sam", "slow")
	if p.Status.Phase != store.PhaseReady {
		t.Fatalf("after a plan of %s (the lease is %s): phase %s: %s (runs %v)",
			planFor, h.cfg.LeaseDuration, p.Status.Phase, p.Status.LastError, h.runOps("sam", "slow"))
	}
	if strings.Contains(p.Status.LastError, "lease") {
		t.Errorf("last error %q", p.Status.LastError)
	}
	if diff := cmp.Diff([]string{store.OpPlan + ":" + store.OutcomeSucceeded, store.OpApply + ":" + store.OutcomeSucceeded}, h.runOps("sam", "slow")); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}
