package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// speculateDue plans every claimable speculative plan, one at a time, and
// returns how many ran.
func (h *harness) speculateDue() int {
	h.t.Helper()
	ctx := context.Background()
	for n := 0; n < 100; n++ {
		sp, ok, err := h.c.claimSpeculative(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		if !ok {
			return n
		}
		h.c.planSpeculative(ctx, ctx, *sp)
	}
	h.t.Fatal("speculative plans stay queued forever")
	return 0
}

func (h *harness) queueSpeculative(user, project string, spec store.Spec) store.Run {
	h.t.Helper()
	r, err := h.st.QueueSpeculativePlan(context.Background(), store.Key{UserID: user, ProjectID: project}, spec, h.clock.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) speculativeResult(user, project string, rowID int64) (store.Run, store.SpeculativeFindings) {
	h.t.Helper()
	r, err := h.st.GetSpeculativePlan(context.Background(), store.Key{UserID: user, ProjectID: project}, rowID)
	if err != nil {
		h.t.Fatal(err)
	}
	var f store.SpeculativeFindings
	if len(r.Speculative) > 0 {
		if err := json.Unmarshal(r.Speculative, &f); err != nil {
			h.t.Fatal(err)
		}
	}
	return r, f
}

func (h *harness) rawState(user, project string) []byte {
	h.t.Helper()
	raw, _, err := h.st.TerraformState(context.Background(), tf.DefaultPGSchema, tf.WorkspaceName(user, project))
	if err != nil {
		h.t.Fatal(err)
	}
	return raw
}

// withExtra is counterSpec(n) with one more terraform_data.
func withExtra(n int) store.Spec {
	s := counterSpec(n)
	s.Files = map[string]string{"main.tf": s.Files["main.tf"], "extra.tf": `resource "terraform_data" "extra" {}`}
	return s
}

// TestSpeculativePlanAtQuota: with real terraform, a speculative plan of a
// project at its user's quota shows the change of each address and "would
// be blocked: quota", and changes nothing: the project's spec, generation,
// status, phase and reservations, and its Terraform state (no
// terraform_data is created) are as before; the plan is in the project's
// run history as a run of kind speculative. A speculative plan of a project
// that does not exist plans from nothing and creates no project row. A
// queued speculative plan is not mistaken by the project's own reconcile
// for the trace of a crashed run.
func TestSpeculativePlanAtQuota(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, func(c *Config) { c.MaxResourcesPerUser = 1 })
	h.put("alice", "app", counterSpec(1))
	h.reconcileDue()
	before := h.get("alice", "app")
	if before.Status.Phase != store.PhaseReady {
		t.Fatalf("setup: app %s %q", before.Status.Phase, before.Status.Message)
	}
	stateBefore := h.rawState("alice", "app")

	queued := h.queueSpeculative("alice", "app", withExtra(2))
	if queued.Kind != store.KindSpeculative || queued.Outcome != store.OutcomeQueued || queued.ID != 3 {
		t.Fatalf("queued: kind %q outcome %q number %d, want speculative, queued, 3 (after plan and apply)", queued.Kind, queued.Outcome, queued.ID)
	}
	// The project's own reconcile meanwhile (an extend makes it due):
	// the queued plan is neither abandoned nor a reason to recover.
	if _, err := h.st.Extend(context.Background(), before.Key, h.clock.Now().Add(2*time.Hour), h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.reconcileDue()
	if r, _ := h.speculativeResult("alice", "app", queued.RowID); r.Outcome != store.OutcomeQueued {
		t.Fatalf("the project's reconcile took the queued speculative plan for a crashed run: outcome %q, error %q", r.Outcome, r.Error)
	}
	before = h.get("alice", "app")
	if before.Status.Phase != store.PhaseReady {
		t.Fatalf("after the extend: %s %q", before.Status.Phase, before.Status.Message)
	}

	if n := h.speculateDue(); n != 1 {
		t.Fatalf("%d speculative plans ran, want 1", n)
	}
	run, found := h.speculativeResult("alice", "app", queued.RowID)
	if run.Outcome != store.OutcomeSucceeded || run.FinishedAt == nil {
		t.Fatalf("speculative run: outcome %q, error %q", run.Outcome, run.Error)
	}
	wantChanges := []store.SpeculativeChange{
		{Address: "terraform_data.counter", Type: "terraform_data", Action: "update"},
		{Address: "terraform_data.extra", Type: "terraform_data", Action: "create"},
	}
	if diff := cmp.Diff(wantChanges, found.Changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if !found.ProjectExists {
		t.Error("the plan was not compared with the project's state")
	}
	if found.Admission.Verdict != store.VerdictBlocked || found.Admission.Reason != ReasonQuota ||
		!strings.HasPrefix(found.Admission.Message, "would be blocked: quota: ") || !strings.Contains(found.Admission.Message, "2 in all, over the limit of 1") {
		t.Errorf("admission verdict: %+v", found.Admission)
	}
	if found.Policy.Verdict != store.VerdictPassed {
		t.Errorf("policy verdict: %+v", found.Policy)
	}
	if run.EstimatedMonthlyCostUSD == nil || len(run.CostEstimate) == 0 {
		t.Errorf("no cost estimate: %v %s", run.EstimatedMonthlyCostUSD, run.CostEstimate)
	}

	after := h.get("alice", "app")
	if diff := cmp.Diff(before.Spec, after.Spec); diff != "" {
		t.Errorf("the spec changed (-before +after):\n%s", diff)
	}
	if after.Generation != before.Generation || after.Revision != before.Revision {
		t.Errorf("generation %d→%d, revision %d→%d", before.Generation, after.Generation, before.Revision, after.Revision)
	}
	if diff := cmp.Diff(before.Status, after.Status); diff != "" {
		t.Errorf("the status (phase, reservations, ...) changed (-before +after):\n%s", diff)
	}
	if !bytes.Equal(stateBefore, h.rawState("alice", "app")) {
		t.Error("the project's Terraform state changed")
	}
	if n := h.stateCount("alice", "app"); n != 1 {
		t.Errorf("the project's state holds %d resources, want 1 (nothing created)", n)
	}
	runs, err := h.st.ListRuns(context.Background(), before.Key, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 || runs[0].Kind != store.KindSpeculative || runs[0].Operation != store.OpPlan || runs[0].ID != queued.ID {
		t.Errorf("the run history does not start with the speculative plan: %+v", runs)
	}
	for _, r := range runs[1:] {
		if r.Kind != store.KindReconcile {
			t.Errorf("run %d: kind %q, want reconcile", r.ID, r.Kind)
		}
	}

	// A project that does not exist: planned from nothing, no row made.
	fresh := h.queueSpeculative("alice", "preview", counterSpec(5))
	h.speculateDue()
	run, found = h.speculativeResult("alice", "preview", fresh.RowID)
	if run.Outcome != store.OutcomeSucceeded || found.ProjectExists {
		t.Fatalf("preview of a new project: outcome %q, error %q, exists %v", run.Outcome, run.Error, found.ProjectExists)
	}
	if diff := cmp.Diff([]store.SpeculativeChange{{Address: "terraform_data.counter", Type: "terraform_data", Action: "create"}}, found.Changes); diff != "" {
		t.Errorf("changes of a new project (-want +got):\n%s", diff)
	}
	if !strings.Contains(found.Admission.Message, "would be blocked: quota: ") {
		t.Errorf("a new project over the quota: %+v", found.Admission)
	}
	if _, err := h.st.GetProject(context.Background(), store.Key{UserID: "alice", ProjectID: "preview"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the preview created the project: %v", err)
	}
}

// TestSpeculativePlanPolicyAndFairness (real engine, but no terraform
// runs: the policy refuses before any): a configuration the policy refuses
// gets the policy verdict, not a failed run; a plan that keeps stopping
// its workers fails; a user's speculative plans wait while the user holds
// MaxWorkersPerUser leases, while another user's go ahead.
func TestSpeculativePlanPolicyAndFairness(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t, func(c *Config) { c.MaxWorkersPerUser = 1 })
	// A plan whose every worker stopped mid-plan (each claim's lease ran
	// out) is failed, not handed on for ever.
	doomed := h.queueSpeculative("erin", "loop", counterSpec(1))
	for i := 0; i < maxSpeculativeAttempts; i++ {
		if _, ok, err := h.st.ClaimSpeculativePlan(context.Background(), store.Claim{Owner: "crashed", LeaseFor: -time.Second}, "x"); err != nil || !ok {
			t.Fatalf("claim %d: %v %v", i, ok, err)
		}
	}
	h.speculateDue()
	run, _ := h.speculativeResult("erin", "loop", doomed.RowID)
	if run.Outcome != store.OutcomeFailed || !strings.Contains(run.Error, "3 reconcilers took this speculative plan") {
		t.Errorf("a plan that keeps stopping its workers: outcome %q, error %q", run.Outcome, run.Error)
	}

	bad := counterSpec(1)
	bad.Files["x.tf"] = `resource "terraform_data" "x" {
  provisioner "local-exec" { command = "true" }
}`
	refused := h.queueSpeculative("carol", "bad", bad)
	var found store.SpeculativeFindings
	if n := h.speculateDue(); n != 1 {
		t.Fatalf("%d ran, want 1", n)
	}
	run, found = h.speculativeResult("carol", "bad", refused.RowID)
	if run.Outcome != store.OutcomeSucceeded || found.Policy.Verdict != store.VerdictRefused || found.Policy.Reason != ReasonPolicy ||
		!strings.Contains(found.Policy.Message, "would be refused") || !strings.Contains(found.Policy.Message, "x.tf:2") {
		t.Errorf("policy refusal: outcome %q error %q, policy %+v", run.Outcome, run.Error, found.Policy)
	}
	if found.Admission.Verdict != store.VerdictNotEvaluated {
		t.Errorf("admission of a refused configuration: %+v", found.Admission)
	}

	// alice holds her one worker (a project lease); bob does not.
	h.put("alice", "busy", counterSpec(1))
	if _, ok, err := h.c.claim(context.Background()); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	h.queueSpeculative("alice", "busy", counterSpec(2))
	bobs := h.queueSpeculative("bob", "web", counterSpec(1))
	sp, ok, err := h.c.claimSpeculative(context.Background())
	if err != nil || !ok || sp.UserID != "bob" || sp.RowID != bobs.RowID {
		t.Fatalf("claimed %+v %v %v, want bob's plan", sp, ok, err)
	}
	if _, ok, err := h.c.claimSpeculative(context.Background()); err != nil || ok {
		t.Fatalf("alice's plan was claimed while she holds her one worker: %v %v", ok, err)
	}
}
