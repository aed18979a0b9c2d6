package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// expireLeases makes every lease expire now on the database's clock, as if
// its holder had stopped renewing long ago.
func expireLeases(t *testing.T, s *store.Store) {
	t.Helper()
	if _, err := s.Pool().Exec(context.Background(), `UPDATE projects SET lease_expires_at = now() - interval '1 second'
		WHERE lease_expires_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
}

func claim(t *testing.T, s *store.Store, owner string, now time.Time, inflight ...store.Key) (store.Project, bool) {
	t.Helper()
	p, ok, err := s.ClaimDue(context.Background(), store.Claim{Owner: owner, LeaseFor: time.Minute, Now: now, InFlight: inflight})
	if err != nil {
		t.Fatal(err)
	}
	return p, ok
}

func TestClaimLeaseAndFinish(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "carol", ProjectID: "p1"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	p, ok := claim(t, s, "r1", t0)
	if !ok || p.Key != key || p.LeaseToken == "" {
		t.Fatalf("claim: %v %v %q", ok, p.Key, p.LeaseToken)
	}
	if _, ok := claim(t, s, "r2", t0.Add(time.Second)); ok {
		t.Fatal("a leased project was claimed by a second reconciler")
	}
	// A client writes while r1 works: r1's finish must leave it due.
	if _, _, err := s.PutSpec(ctx, key, spec(2), nil, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	st := store.Status{Phase: store.PhaseReady, ObservedGeneration: 1}
	if err := s.FinishReconcile(ctx, key, "00000000-0000-0000-0000-000000000000", st, p.Revision, t0.Add(time.Hour), t0.Add(3*time.Second)); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("finish with another claim's token: %v", err)
	}
	if err := s.FinishReconcile(ctx, key, p.LeaseToken, st, p.Revision, t0.Add(time.Hour), t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	again, ok := claim(t, s, "r2", t0.Add(4*time.Second))
	if !ok || again.Generation != 2 {
		t.Fatalf("a write during the pass was lost: claimed=%v gen=%d", ok, again.Generation)
	}
	// r2 crashes; once its lease expires (on the database's clock) r3
	// takes over, and r2's token no longer works.
	if _, ok := claim(t, s, "r3", t0.Add(30*time.Second)); ok {
		t.Fatal("claimed before the lease expired")
	}
	expireLeases(t, s)
	third, ok := claim(t, s, "r3", t0.Add(61*time.Second))
	if !ok {
		t.Fatal("an expired lease was not taken over")
	}
	if _, err := s.RenewLease(ctx, key, again.LeaseToken, time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("stale claim renewed: %v", err)
	}
	if err := s.SetStatus(ctx, key, again.LeaseToken, st); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("stale claim wrote status: %v", err)
	}
	// Unchanged finish: the next pass waits for the resync time.
	if err := s.FinishReconcile(ctx, key, third.LeaseToken, st, third.Revision, t0.Add(time.Hour), t0.Add(62*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok := claim(t, s, "r3", t0.Add(2*time.Minute)); ok {
		t.Fatal("claimed before its due time")
	}
	wait, ok, err := s.NextDueAt(ctx, t0.Add(2*time.Minute))
	if err != nil || !ok || wait != time.Hour-2*time.Minute {
		t.Fatalf("NextDueAt = %v %v %v, want 58m", wait, ok, err)
	}
}

// A replica whose clock runs an hour ahead cannot take a live lease: lease
// expiry is judged on the database's clock.
func TestClockSkewCannotStealLease(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "skew", ProjectID: "p"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, ok := claim(t, s, "honest", t0); !ok {
		t.Fatal("no claim")
	}
	if _, ok := claim(t, s, "fast-clock", t0.Add(time.Hour)); ok {
		t.Fatal("a replica with a fast clock stole a live lease")
	}
	if _, ok := claim(t, s, "fast-clock", t0.Add(240*time.Hour)); ok {
		t.Fatal("a replica with a very fast clock stole a live lease")
	}
}

// Keys in flight in this process are never claimed again, while this
// replica's other, stale leases (a final write lost to an outage) are taken
// back at once.
func TestInFlightSkippedOwnStaleLeaseReclaimed(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a, b := store.Key{UserID: "u", ProjectID: "a"}, store.Key{UserID: "u", ProjectID: "b"}
	for _, k := range []store.Key{a, b} {
		if _, _, err := s.PutSpec(ctx, k, spec(1), nil, t0); err != nil {
			t.Fatal(err)
		}
	}
	first, _ := claim(t, s, "me", t0)
	second, _ := claim(t, s, "me", t0, first.Key)
	if second.Key == first.Key {
		t.Fatal("claimed a key already in flight")
	}
	if _, ok := claim(t, s, "me", t0, first.Key, second.Key); ok {
		t.Fatal("claimed a key already in flight")
	}
	// The pass on second ended but its final write was lost: second is
	// still leased by "me", not in flight any more.
	back, ok := claim(t, s, "me", t0, first.Key)
	if !ok || back.Key != second.Key || back.LeaseToken == second.LeaseToken {
		t.Fatalf("own stale lease not taken back at once: %v %v", ok, back.Key)
	}
	if _, ok := claim(t, s, "other", t0); ok {
		t.Fatal("another replica took live leases")
	}
}

// Claiming is round-robin across users: user A's 50 due projects do not
// starve user B's one, and MaxPerUser keeps A to one worker while B waits.
func TestClaimRoundRobinAcrossUsers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for i := 0; i < 50; i++ {
		if _, _, err := s.PutSpec(ctx, store.Key{UserID: "a", ProjectID: fmt.Sprintf("p%02d", i)}, spec(i), nil, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.PutSpec(ctx, store.Key{UserID: "b", ProjectID: "only"}, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	// A was served before: it is A's turn last.
	first, _ := claim(t, s, "r", t0)
	var inflight []store.Key
	inflight = append(inflight, first.Key)
	p, ok, err := s.ClaimDue(ctx, store.Claim{Owner: "r", LeaseFor: time.Minute, Now: t0, InFlight: inflight, MaxPerUser: 1})
	if err != nil || !ok {
		t.Fatalf("second claim: %v %v", ok, err)
	}
	got := map[string]bool{first.UserID: true, p.UserID: true}
	if !got["a"] || !got["b"] {
		t.Fatalf("two worker slots went to %s and %s; B's project must get one of them", first.Key, p.Key)
	}
	inflight = append(inflight, p.Key)
	// With both users holding one worker each and MaxPerUser 1 nothing
	// else is claimable; without the cap A's next project is.
	if _, ok, _ := s.ClaimDue(ctx, store.Claim{Owner: "r", LeaseFor: time.Minute, Now: t0, InFlight: inflight, MaxPerUser: 1}); ok {
		t.Fatal("a user got a second worker past MaxPerUser")
	}
	if p, ok := claim(t, s, "r", t0, inflight...); !ok || p.UserID != "a" {
		t.Fatalf("work-conserving claim without the cap: %v %v", ok, p.Key)
	}
}

// N concurrent admissions of one user against a quota of 1 admit exactly
// one; the others see the reservation.
func TestConcurrentAdmissionAdmitsExactlyOne(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	const n = 8
	var claims []store.Project
	for i := 0; i < n; i++ {
		if _, _, err := s.PutSpec(ctx, store.Key{UserID: "q", ProjectID: fmt.Sprintf("p%d", i)}, spec(i), nil, t0); err != nil {
			t.Fatal(err)
		}
	}
	var inflight []store.Key
	for i := 0; i < n; i++ {
		p, ok := claim(t, s, "r", t0, inflight...)
		if !ok {
			t.Fatal("not claimable")
		}
		inflight = append(inflight, p.Key)
		claims = append(claims, p)
	}
	var wg sync.WaitGroup
	results := make([]store.AdmissionResult, n)
	errs := make([]error, n)
	for i, p := range claims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Admit(ctx, p.Key, p.LeaseToken, store.Admission{Resources: 1, MonthlyUSD: 1, MaxResources: 1, BudgetUSD: 100})
		}()
	}
	wg.Wait()
	admitted := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i].Admitted {
			admitted++
		} else if !results[i].OverQuota || results[i].OthersResources != 1 {
			t.Errorf("refusal %d: %+v", i, results[i])
		}
	}
	if admitted != 1 {
		t.Fatalf("%d of %d concurrent plans admitted against a quota of 1", admitted, n)
	}
	u, err := s.UserUsage(ctx, "q", "")
	if err != nil || u.Resources != 1 {
		t.Fatalf("usage after admission: %+v %v", u, err)
	}
}

// An extend racing the expiry either wins (the project lives) or gets a
// conflict (it is being destroyed); never both.
func TestExtendDuringExpiry(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "e", ProjectID: "p"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	expired := t0.Add(2 * time.Hour)
	// Extend lands after the pass read the row: the expiry is refused.
	p, _ := claim(t, s, "r", expired)
	if _, err := s.Extend(ctx, key, expired.Add(time.Hour), expired); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkExpired(ctx, key, p.LeaseToken, p.Revision, expired); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("expiry after an extend: %v, want ErrConflict", err)
	}
	if cur, _ := s.GetProject(ctx, key); cur.DeletionRequestedAt != nil {
		t.Fatal("extended project marked for deletion")
	}
	if err := s.FinishReconcile(ctx, key, p.LeaseToken, p.Status, p.Revision, expired.Add(time.Hour), expired); err != nil {
		t.Fatal(err)
	}
	// Expiry first: the extend is a conflict.
	later := expired.Add(2 * time.Hour)
	p, _ = claim(t, s, "r", later)
	if err := s.MarkExpired(ctx, key, p.LeaseToken, p.Revision, later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Extend(ctx, key, later.Add(time.Hour), later); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("extend after expiry: %v, want ErrConflict", err)
	}
}

// Approval names the plan awaiting approval: before any plan it is a
// conflict, and so is a superseded run.
func TestApproveNamesThePendingPlan(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "ap", ProjectID: "p"}
	sp := spec(1)
	sp.RequireApproval = true
	if _, _, err := s.PutSpec(ctx, key, sp, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, key, store.Approval{Generation: 1}, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("approval before a plan: %v", err)
	}
	p, _ := claim(t, s, "r", t0)
	ref, err := s.StartRun(ctx, p, p.LeaseToken, store.OpPlan, "Spec", "rec", "r", t0)
	if err != nil || ref.Number != 1 {
		t.Fatalf("run number %d, %v", ref.Number, err)
	}
	if err := s.FinishRun(ctx, ref.RowID, store.RunResult{Outcome: store.OutcomeSucceeded, Planfile: []byte("PLAN")}, t0); err != nil {
		t.Fatal(err)
	}
	st := p.Status
	st.Phase, st.PendingPlanRun = store.PhaseAwaitingApproval, ref.Number
	if err := s.FinishReconcile(ctx, key, p.LeaseToken, st, p.Revision, t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, key, store.Approval{RunID: 7}, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("approval of another run: %v", err)
	}
	got, err := s.Approve(ctx, key, store.Approval{RunID: ref.Number}, t0)
	if err != nil || got.ApprovedRun != ref.Number {
		t.Fatalf("approve: %v %d", err, got.ApprovedRun)
	}
	b, gen, err := s.Planfile(ctx, p.UID, ref.Number)
	if err != nil || string(b) != "PLAN" || gen != 1 {
		t.Fatalf("planfile %q gen %d: %v", b, gen, err)
	}
	// A user without requireApproval learns why approving does nothing.
	other := store.Key{UserID: "ap", ProjectID: "plain"}
	if _, _, err := s.PutSpec(ctx, other, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, other, store.Approval{Generation: 1}, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("approve without requireApproval: %v", err)
	}
}

// A finalized project leaves a tombstone with its runs; prune removes both
// after the retention.
func TestTombstoneAndPrune(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "t", ProjectID: "p"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestDeletion(ctx, key, false, t0); err != nil {
		t.Fatal(err)
	}
	p, _ := claim(t, s, "r", t0)
	for i := 0; i < 3; i++ {
		ref, err := s.StartRun(ctx, p, p.LeaseToken, store.OpDestroy, "Deleted", "rec", "r", t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, ref.RowID, store.RunResult{Outcome: store.OutcomeSucceeded}, t0); err != nil {
			t.Fatal(err)
		}
	}
	final := store.Status{Phase: store.PhaseDestroying, Message: "destroyed"}
	if err := s.DeleteFinalized(ctx, key, p.LeaseToken, p.UID, "DeletionRequested", final, t0); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetProject(ctx, key)
	var gone *store.GoneError
	if !errors.As(err, &gone) || gone.Tombstone.Status.Message != "destroyed" || !errors.Is(err, store.ErrGone) {
		t.Fatalf("GetProject after deletion: %v", err)
	}
	runs, err := s.ListRuns(ctx, key, 2, 0)
	if err != nil || len(runs) != 2 || runs[0].ID != 3 {
		t.Fatalf("runs of the deleted project: %v %+v", err, runs)
	}
	older, err := s.ListRuns(ctx, key, 2, runs[1].ID)
	if err != nil || len(older) != 1 || older[0].ID != 1 {
		t.Fatalf("second page: %v %+v", err, older)
	}
	n, err := s.Prune(ctx, 7*24*time.Hour, 100, t0.Add(8*24*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("prune removed %d runs, %v", n, err)
	}
	if _, err := s.GetProject(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after retention: %v", err)
	}
}
