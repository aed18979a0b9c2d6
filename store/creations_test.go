package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
)

// Creation records: written with an apply run before terraform starts,
// pending once that run ended without success (never while it runs, for
// the project itself), visible to other projects while it runs or failed,
// copied from an approved plan run, and dropped when an apply succeeds.
func TestCreationRecords(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	start := func(key store.Key, op string, at time.Time) (store.Project, store.RunRef) {
		t.Helper()
		if _, _, err := s.PutSpec(ctx, key, spec(1), nil, at); err != nil {
			t.Fatal(err)
		}
		p, ok := claim(t, s, "r-"+key.UserID, at)
		if !ok {
			p, _ = s.GetProject(ctx, key)
		}
		ref, err := s.StartRun(ctx, p, p.LeaseToken, op, "Spec", "rec", "r", at)
		if err != nil {
			t.Fatal(err)
		}
		return p, ref
	}
	alice, plan := start(store.Key{UserID: "alice", ProjectID: "site"}, store.OpPlan, t0)
	site := store.CreationRecord{Address: "aws_s3_bucket.site", Type: "aws_s3_bucket", Name: "alice-site", Region: "us-east-1"}
	logs := store.CreationRecord{Address: "aws_s3_bucket.logs", Type: "aws_s3_bucket", NamePrefix: "logs-", Region: "us-east-1"}
	if err := s.RecordCreations(ctx, plan.RowID, []store.CreationRecord{site, logs}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, plan.RowID, store.RunResult{Outcome: store.OutcomeSucceeded}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	apply, err := s.StartRun(ctx, alice, alice.LeaseToken, store.OpApply, "Approved", "rec", "r", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CopyCreations(ctx, alice.UID, plan.Number, apply.RowID); err != nil {
		t.Fatal(err)
	}
	pending := func(uid string) []string {
		t.Helper()
		recs, err := s.PendingCreations(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.Address+" "+r.Name+r.NamePrefix+" "+r.StartedAt.Format("15:04:05")+"-"+r.FinishedAt.Format("15:04:05"))
		}
		return out
	}
	if got := pending(alice.UID); len(got) != 0 {
		t.Fatalf("records of a plan, or of an apply still running: %v", got)
	}
	// Bob's project sees alice's running apply.
	bob, _ := start(store.Key{UserID: "bob", ProjectID: "site"}, store.OpPlan, t0)
	others, err := s.OthersPendingCreations(ctx, bob.UID, "aws_s3_bucket", t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	if err != nil || len(others) != 2 {
		t.Fatalf("bob sees %d of alice's running creates (%v), want 2", len(others), err)
	}
	if others, _ := s.OthersPendingCreations(ctx, bob.UID, "aws_dynamodb_table", t0, t0.Add(time.Hour)); len(others) != 0 {
		t.Errorf("another type: %+v", others)
	}
	// The apply is interrupted; the next pass closes it.
	if err := s.AbandonRun(ctx, apply.RowID, "reconciler died", t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	want := []string{"aws_s3_bucket.logs logs- 12:01:00-12:03:00", "aws_s3_bucket.site alice-site 12:01:00-12:03:00"}
	if diff := cmp.Diff(want, pending(alice.UID)); diff != "" {
		t.Errorf("pending after the interrupted apply (-want +got):\n%s", diff)
	}
	if others, _ := s.OthersPendingCreations(ctx, bob.UID, "aws_s3_bucket", t0.Add(4*time.Minute), t0.Add(5*time.Minute)); len(others) != 0 {
		t.Errorf("a window after the run's end: %+v", others)
	}
	if err := s.ResolveCreations(ctx, alice.UID, apply.RowID); err != nil {
		t.Fatal(err)
	}
	if got := pending(alice.UID); len(got) != 0 {
		t.Errorf("pending after an apply succeeded: %v", got)
	}
}
