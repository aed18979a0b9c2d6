package tf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf/policy"
)

// TestPlanSpeculative: against the copy of an applied project's state a
// speculative plan shows the change of each address; from no state, the
// creates. The project's own state is untouched (same bytes, same serial),
// and no workdir of the plan is left behind.
func TestPlanSpeculative(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	ctx := testContext(t)
	p := counterProject("alice", "spec", 1)
	plan, err := e.Plan(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ApplySaved(ctx, p, plan.Bytes, nil); err != nil {
		t.Fatal(err)
	}
	before := rawStateFromDatabase(t, e, p.workspace())

	next := counterProject("alice", "spec", 2)
	next.Files["extra.tf"] = `resource "terraform_data" "extra" {}`
	sp, err := e.PlanSpeculative(ctx, next, before, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ResourceChange{
		{Address: "terraform_data.counter", Type: "terraform_data", Action: "update"},
		{Address: "terraform_data.extra", Type: "terraform_data", Action: "create"},
	}
	if diff := cmp.Diff(want, sp.Changes); diff != "" {
		t.Errorf("changes against the state (-want +got):\n%s", diff)
	}
	if sp.Summary.Add != 1 || sp.Summary.Change != 1 || sp.Summary.Destroy != 0 || len(sp.Summary.Resources) != 2 {
		t.Errorf("summary: %+v", sp.Summary)
	}
	if after := rawStateFromDatabase(t, e, p.workspace()); !bytes.Equal(before, after) {
		t.Errorf("the project's state changed:\nbefore %s\nafter  %s", before, after)
	}

	// A project without state: everything is created.
	sp, err = e.PlanSpeculative(ctx, counterProject("alice", "new", 3), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ResourceChange{{Address: "terraform_data.counter", Type: "terraform_data", Action: "create"}}, sp.Changes); diff != "" {
		t.Errorf("changes from nothing (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.WorkRoot, "alice_new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a speculative plan made the project's workdir: %v", err)
	}
	left, err := os.ReadDir(filepath.Join(e.cfg.WorkRoot, speculativeDir))
	if err != nil || len(left) != 0 {
		t.Errorf("speculative workdirs left behind: %v %v", left, err)
	}

	// The policy refuses before anything runs.
	bad := counterProject("alice", "bad", 1)
	bad.Files["x.tf"] = `resource "terraform_data" "x" {
  provisioner "local-exec" { command = "true" }
}`
	_, err = e.PlanSpeculative(ctx, bad, nil, nil)
	var pe *policy.Error
	if !errors.As(err, &pe) {
		t.Fatalf("a provisioner: %v, want a *policy.Error", err)
	}
}
