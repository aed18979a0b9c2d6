package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// TestSpeculativePlanLease: a speculative plan is claimed once at a time;
// one whose worker stopped (lease expired) is claimed again, and the
// stopped worker can no longer record it; a released one goes back to the
// queue without counting an attempt; the finish is kept with the run.
func TestSpeculativePlanLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "alice", ProjectID: "new"}
	queued, err := s.QueueSpeculativePlan(ctx, key, spec(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	if queued.Kind != store.KindSpeculative || queued.Outcome != store.OutcomeQueued || queued.Operation != store.OpPlan ||
		queued.Generation != 0 || queued.ID != 1 || queued.Reason != store.ReasonSpeculative {
		t.Fatalf("queued: %+v", queued)
	}
	if _, err := s.GetProject(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("queueing created the project: %v", err)
	}
	first, ok, err := s.ClaimSpeculativePlan(ctx, store.Claim{Owner: "r1", LeaseFor: -time.Second}, "rec-1")
	if err != nil || !ok || first.RowID != queued.RowID || first.Attempts != 1 || first.Outcome != store.OutcomeRunning || first.Owner != "r1" {
		t.Fatalf("first claim: %+v %v %v", first, ok, err)
	}
	if first.Spec.Variables["n"] == nil || first.Spec.Region != "us-east-1" {
		t.Errorf("the claimed spec: %+v", first.Spec)
	}
	// r1's lease is already over (LeaseFor < 0): r2 takes the plan over.
	second, ok, err := s.ClaimSpeculativePlan(ctx, store.Claim{Owner: "r2", LeaseFor: time.Hour}, "rec-2")
	if err != nil || !ok || second.RowID != queued.RowID || second.Attempts != 2 || second.LeaseToken == first.LeaseToken {
		t.Fatalf("takeover: %+v %v %v", second, ok, err)
	}
	if _, ok, err := s.ClaimSpeculativePlan(ctx, store.Claim{Owner: "r3", LeaseFor: time.Hour}, "rec-3"); ok || err != nil {
		t.Fatalf("a leased plan was claimed twice: %v %v", ok, err)
	}
	res := store.RunResult{Outcome: store.OutcomeSucceeded}
	if err := s.FinishSpeculativePlan(ctx, first.RowID, first.LeaseToken, res, nil, t0); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the stopped worker recorded the plan: %v", err)
	}
	if err := s.RenewSpeculativeLease(ctx, first.RowID, first.LeaseToken, time.Hour); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the stopped worker renewed: %v", err)
	}
	if err := s.RenewSpeculativeLease(ctx, second.RowID, second.LeaseToken, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseSpeculativePlan(ctx, second.RowID, second.LeaseToken); err != nil {
		t.Fatal(err)
	}
	third, ok, err := s.ClaimSpeculativePlan(ctx, store.Claim{Owner: "r3", LeaseFor: time.Hour}, "rec-3")
	if err != nil || !ok || third.Attempts != 2 {
		t.Fatalf("after a release: %+v %v %v (want attempts 2: a release is not an attempt)", third, ok, err)
	}
	found := &store.SpeculativeFindings{Admission: store.Verdict{Verdict: store.VerdictAdmitted, Message: "ok"}}
	if err := s.FinishSpeculativePlan(ctx, third.RowID, third.LeaseToken, res, found, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSpeculativePlan(ctx, key, queued.RowID)
	if err != nil || got.Outcome != store.OutcomeSucceeded || got.FinishedAt == nil || len(got.Speculative) == 0 {
		t.Fatalf("finished: %+v %v", got, err)
	}
	var specDropped bool
	if err := s.Pool().QueryRow(ctx, `SELECT spec IS NULL FROM runs WHERE id = $1`, queued.RowID).Scan(&specDropped); err != nil || !specDropped {
		t.Errorf("the finished plan still holds its spec (variables may be secrets): dropped=%v %v", specDropped, err)
	}
	if _, ok, err := s.ClaimSpeculativePlan(ctx, store.Claim{Owner: "r4", LeaseFor: time.Hour}, "rec-4"); ok || err != nil {
		t.Fatalf("a finished plan was claimed: %v %v", ok, err)
	}
	if _, err := s.GetSpeculativePlan(ctx, store.Key{UserID: "alice", ProjectID: "other"}, queued.RowID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another project's plan: %v", err)
	}
}

// TestSpeculativeLeaseCountsAgainstTheWorkerCap: a user whose speculative
// plan holds a worker gets no second one for a due project while the cap
// is one; another user's project is claimed.
func TestSpeculativeLeaseCountsAgainstTheWorkerCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	if _, err := s.QueueSpeculativePlan(ctx, store.Key{UserID: "alice", ProjectID: "preview"}, spec(1), t0); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.ClaimSpeculativePlan(ctx, store.Claim{Owner: "r1", LeaseFor: time.Hour, MaxPerUser: 1}, "rec"); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	for _, k := range []store.Key{{UserID: "alice", ProjectID: "app"}, {UserID: "bob", ProjectID: "app"}} {
		if _, _, err := s.PutSpec(ctx, k, spec(1), nil, t0); err != nil {
			t.Fatal(err)
		}
	}
	c := store.Claim{Owner: "r1", LeaseFor: time.Hour, Now: t0, MaxPerUser: 1}
	p, ok, err := s.ClaimDue(ctx, c)
	if err != nil || !ok || p.UserID != "bob" {
		t.Fatalf("claimed %v %v %v, want bob's project", p.Key, ok, err)
	}
	c.InFlight = []store.Key{p.Key}
	if p, ok, err := s.ClaimDue(ctx, c); ok || err != nil {
		t.Fatalf("alice's project was claimed while her speculative plan holds her one worker: %v %v %v", p.Key, ok, err)
	}
}
