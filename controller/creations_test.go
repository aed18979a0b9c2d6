package controller

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// Adoption never destroys. A crash left a tagged bucket the state does not
// hold; the adoption plan imports it, but the configuration forces a new
// resource, so the plan replaces what it adopts ("1 to import, 1 to add, 1
// to destroy"). It is not applied: the project waits for an admin with
// AdoptionWouldDestroy and the plan's summary, though requireApproval is
// false; approving that run applies it.
func TestAdoptionPlanThatReplacesWaitsForApproval(t *testing.T) {
	t.Parallel()
	tags := map[string]string{"Project": tf.ProjectTag("r", "p"), "ManagedBy": "chart-app-platform", "UserId": "r", "ProjectId": "p"}
	h := newHarness(t, func(c *Config) {
		c.Inventory = fakeInventory{items: []store.InventoryItem{{ARN: "arn:aws:s3:::uploads", Type: "s3:bucket", Region: "us-east-1", Tags: tags}}}
		c.Strays = &fakeRemover{}
	})
	h.fake.replaceImports = true
	spec := oneResource()
	spec.Files = map[string]string{"main.tf": `resource "aws_s3_bucket" "uploads" {}`}
	h.put("r", "p", spec)
	h.reconcileDue()

	p := h.get("r", "p")
	if n := h.fake.count("apply", "r/p"); n != 0 {
		t.Fatalf("an adoption plan replacing what it imports was applied (%d applies); phase %s", n, p.Status.Phase)
	}
	c, _ := findCondition(p.Status, CondReady)
	if p.Status.Phase != store.PhaseAwaitingApproval || c.Reason != ReasonAdoptionWouldDestroy || p.Status.PendingPlanRun == 0 {
		t.Fatalf("phase %s, reason %s, pending run %d: want AwaitingApproval / %s with the plan run",
			p.Status.Phase, c.Reason, p.Status.PendingPlanRun, ReasonAdoptionWouldDestroy)
	}
	for _, want := range []string{"1 to import, 1 to add, 0 to change, 1 to destroy", `aws_s3_bucket.uploads (imported from "uploads") would be replaced`, "approve"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("condition message %q lacks %q", c.Message, want)
		}
	}
	// Resyncs do not apply it either.
	h.clock.Advance(11 * time.Minute)
	h.reconcileDue()
	if n := h.fake.count("apply", "r/p"); n != 0 {
		t.Fatalf("applied at a resync without approval")
	}

	if _, err := h.st.Approve(context.Background(), h.key("r", "p"), store.Approval{RunID: p.Status.PendingPlanRun}, h.clock.Now()); err != nil {
		t.Fatalf("approving the adoption of a project without requireApproval: %v", err)
	}
	h.reconcileDue()
	if p := h.get("r", "p"); p.Status.Phase != store.PhaseReady || h.fake.count("apply", "r/p") != 1 {
		t.Fatalf("after approval: phase %s, %d applies: %s", p.Status.Phase, h.fake.count("apply", "r/p"), p.Status.LastError)
	}
}

// An adoption plan that only imports (and updates tags) is applied at once.
func TestAdoptionPlanWithoutDestroyIsApplied(t *testing.T) {
	t.Parallel()
	plan := &tf.Plan{Summary: tf.PlanSummary{Change: 1}, Imports: []tf.ImportChange{{Address: "aws_s3_bucket.b", ID: "b", Action: "update"}}}
	if why := adoptionWouldDestroy(plan, []tf.Import{{To: "aws_s3_bucket.b", ID: "b"}}); why != "" {
		t.Errorf("an import with a tag update: %q", why)
	}
	plan = &tf.Plan{Summary: tf.PlanSummary{Add: 2, Destroy: 1}, Imports: []tf.ImportChange{{Address: "aws_dynamodb_table.t", ID: "t", Action: "no-op"}}}
	if why := adoptionWouldDestroy(plan, []tf.Import{{To: "aws_dynamodb_table.t", ID: "t"}}); !strings.Contains(why, "1 to import, 2 to add, 0 to change, 1 to destroy") {
		t.Errorf("an adoption that destroys something else: %q", why)
	}
	if why := adoptionWouldDestroy(&tf.Plan{Summary: tf.PlanSummary{Add: 1, Destroy: 1}}, nil); why != "" {
		t.Errorf("a plan without imports: %q", why)
	}
}

// fakeFinder answers lookups by name with fixed candidates and records
// deletions.
type fakeFinder struct {
	mu         sync.Mutex
	candidates []aws.Candidate
	looked     [][]store.PendingCreation
	deleted    []string
	err        error
}

func (f *fakeFinder) FindCreated(_ context.Context, recs []store.PendingCreation) ([]aws.Candidate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.looked = append(f.looked, recs)
	return f.candidates, f.err
}

func (f *fakeFinder) DeleteCreated(_ context.Context, _, _ string, c aws.Candidate) aws.Removal {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, c.Name)
	return aws.Removal{ARN: c.Name, Deleted: true}
}

// An apply died after creating a bucket (here: it failed after the
// bucket's CreateBucket, before terraform recorded it). What it was about
// to create was recorded before it started. The recovery finds the
// untagged bucket by its recorded name, created inside the run's window,
// and adopts it (an import), instead of failing forever with
// BucketAlreadyOwnedByYou; a bucket of the same run the configuration no
// longer declares is deleted; one created before the run is left alone.
// The records go once an apply succeeds.
func TestRecoveryAdoptsOrDeletesWhatAnInterruptedApplyCreated(t *testing.T) {
	t.Parallel()
	finder := &fakeFinder{}
	h := newHarness(t, func(c *Config) { c.Creations = finder })
	spec := oneResource()
	spec.Files = map[string]string{"main.tf": `resource "aws_s3_bucket" "site" {}
resource "aws_s3_bucket" "extra" {}`}
	h.put("c", "p", spec)
	crashed := h.clock.Now()
	h.fake.applyHook = func(context.Context, tf.Project) error { return errors.New("killed mid-apply") }
	h.reconcileDue()
	if ops := h.runOps("c", "p"); !cmp.Equal(ops, []string{"plan:succeeded", "apply:failed"}) {
		t.Fatalf("runs %v", ops)
	}
	pending, err := h.st.PendingCreations(context.Background(), h.get("c", "p").UID)
	if err != nil {
		t.Fatal(err)
	}
	var recorded []string
	for _, r := range pending {
		recorded = append(recorded, r.Address+"="+r.Name)
	}
	if diff := cmp.Diff([]string{"aws_s3_bucket.extra=extra", "aws_s3_bucket.site=site"}, recorded); diff != "" {
		t.Fatalf("creation records of the failed apply (-want +got):\n%s", diff)
	}

	// The bucket "site" exists, untagged, made during the run; "extra"
	// too, but the new spec drops it; "old" matches nothing recorded.
	h.fake.applyHook = nil
	finder.candidates = []aws.Candidate{
		{Type: "aws_s3_bucket", Name: "site", Region: "us-east-1", CreatedAt: crashed},
		{Type: "aws_s3_bucket", Name: "extra", Region: "us-east-1", CreatedAt: crashed},
	}
	spec.Files = map[string]string{"main.tf": `resource "aws_s3_bucket" "site" {}`}
	h.put("c", "p", spec)
	h.clock.Advance(time.Minute)
	h.reconcileDue()

	p := h.get("c", "p")
	if p.Status.Phase != store.PhaseReady {
		t.Fatalf("phase %s: %s", p.Status.Phase, p.Status.LastError)
	}
	last := h.fake.imports[len(h.fake.imports)-1]
	if diff := cmp.Diff([]tf.Import{{To: "aws_s3_bucket.site", ID: "site"}}, last); diff != "" {
		t.Errorf("imports of the applied plan (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"extra"}, finder.deleted); diff != "" {
		t.Errorf("deleted finds (-want +got):\n%s", diff)
	}
	if pending, _ := h.st.PendingCreations(context.Background(), p.UID); len(pending) != 0 {
		t.Errorf("creation records left after a successful apply: %+v", pending)
	}
	looks := len(finder.looked)
	h.clock.Advance(11 * time.Minute)
	h.reconcileDue()
	if len(finder.looked) != looks {
		t.Errorf("AWS looked up again with no pending records")
	}
}

// A bucket with the recorded name but created before the run started is
// someone else's (S3 names are global): never adopted, never deleted.
func TestRecoveryLeavesABucketOlderThanTheRun(t *testing.T) {
	t.Parallel()
	finder := &fakeFinder{}
	h := newHarness(t, func(c *Config) { c.Creations = finder })
	spec := oneResource()
	spec.Files = map[string]string{"main.tf": `resource "aws_s3_bucket" "site" {}`}
	finder.candidates = []aws.Candidate{{Type: "aws_s3_bucket", Name: "site", Region: "us-east-1", CreatedAt: h.clock.Now().Add(-time.Hour)}}
	h.fake.applyHook = func(context.Context, tf.Project) error { return errors.New("killed mid-apply") }
	h.put("o", "p", spec)
	h.reconcileDue()
	h.fake.applyHook = nil
	h.clock.Advance(time.Hour)
	h.reconcileDue()
	if len(finder.deleted) != 0 {
		t.Errorf("deleted %v", finder.deleted)
	}
	for _, ims := range h.fake.imports {
		if len(ims) > 0 {
			t.Errorf("adopted a bucket older than the run: %+v", ims)
		}
	}
}

// An apply failing with BucketAlreadyOwnedByYou for a bucket the records
// name (the provider retried a CreateBucket whose answer was lost) is a
// find, not a failure: the same pass plans again, adopts the bucket and is
// Ready, without a backoff.
func TestBucketAlreadyOwnedByYouIsAFind(t *testing.T) {
	t.Parallel()
	finder := &fakeFinder{}
	h := newHarness(t, func(c *Config) { c.Creations = finder })
	spec := oneResource()
	spec.Files = map[string]string{"main.tf": `resource "aws_s3_bucket" "site" {}`}
	applies := 0
	h.fake.applyHook = func(context.Context, tf.Project) error {
		applies++
		if applies == 1 {
			finder.candidates = []aws.Candidate{{Type: "aws_s3_bucket", Name: "site", Region: "us-east-1", CreatedAt: h.clock.Now()}}
			return &tf.CommandError{Op: "apply", LogTail: "Error: creating S3 Bucket (site): operation error S3: CreateBucket, api error BucketAlreadyOwnedByYou: Your previous request to create the named bucket succeeded and you already own it."}
		}
		return nil
	}
	h.put("b", "p", spec)
	if n := h.reconcileDue(); n != 1 {
		t.Errorf("%d passes, want 1", n)
	}
	p := h.get("b", "p")
	if p.Status.Phase != store.PhaseReady || p.Status.Attempts != 0 {
		t.Fatalf("phase %s, attempts %d: %s", p.Status.Phase, p.Status.Attempts, p.Status.LastError)
	}
	last := h.fake.imports[len(h.fake.imports)-1]
	if diff := cmp.Diff([]tf.Import{{To: "aws_s3_bucket.site", ID: "site"}}, last); diff != "" {
		t.Errorf("imports (-want +got):\n%s", diff)
	}
}
