package tf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/terraform-exec/tfexec"
)

func mustPlan(t *testing.T, e *Engine, p Project, creds *Credentials) *Plan {
	t.Helper()
	plan, err := e.Plan(testContext(t), p, creds)
	if err != nil {
		t.Fatalf("plan %s: %v", p.workspace(), err)
	}
	return plan
}

func mustApply(t *testing.T, e *Engine, p Project, plan *Plan, creds *Credentials) *Result {
	t.Helper()
	res, err := e.Apply(testContext(t), p, plan, creds)
	if err != nil {
		t.Fatalf("apply %s: %v", p.workspace(), err)
	}
	return res
}

func counts(s PlanSummary) [3]int { return [3]int{s.Add, s.Change, s.Destroy} }

// TestLifecycle takes one project through the whole life the reconciler
// gives it, against the real terraform binary and a real pg backend.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := newTestEngine(t, "")
	p := counterProject("alice", "demo", 1)

	plan := mustPlan(t, e, p, nil)
	if got := counts(plan.Summary); got != [3]int{1, 0, 0} {
		t.Fatalf("first plan: add/change/destroy = %v, want 1 to add", got)
	}
	want := []PlannedResource{{Address: "terraform_data.counter", Type: "terraform_data", Values: map[string]any{"input": float64(1)}}}
	if diff := cmp.Diff(want, plan.Summary.Resources, filterValues("input")); diff != "" {
		t.Errorf("planned resources (-want +got):\n%s", diff)
	}
	if !strings.Contains(plan.Log, "Initializing the backend") {
		t.Errorf("first plan should have run init; log:\n%s", plan.Log)
	}
	if len(plan.Bytes) == 0 {
		t.Fatal("plan has no planfile bytes")
	}
	mustApply(t, e, p, plan, nil)
	// The planfile lives in the caller's hands (the database), never in the
	// workdir, where a later apply could pick it up by mistake.
	if left, _ := filepath.Glob(filepath.Join(e.workdir(p), plansDir, "*")); len(left) > 0 {
		t.Errorf("planfiles left in the workdir: %v", left)
	}

	plan = mustPlan(t, e, p, nil)
	if plan.Summary.HasChanges() {
		t.Fatalf("second plan should have no changes, got %+v", plan.Summary)
	}
	if !strings.Contains(plan.Log, "init skipped") {
		t.Errorf("second plan should have skipped init; log:\n%s", plan.Log)
	}

	p.Variables = map[string]any{"n": 2}
	plan = mustPlan(t, e, p, nil)
	if got := counts(plan.Summary); got != [3]int{0, 1, 0} {
		t.Fatalf("plan after variable change: add/change/destroy = %v, want 1 to change", got)
	}
	if !strings.Contains(plan.Log, "init skipped") {
		t.Errorf("a variable change must not re-run init; log:\n%s", plan.Log)
	}
	mustApply(t, e, p, plan, nil)

	outs, err := e.Outputs(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"n": float64(2)}, outs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	res, err := e.StateResources(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]StateResource{{Address: "terraform_data.counter", Type: "terraform_data"}}, res); diff != "" {
		t.Errorf("state resources (-want +got):\n%s", diff)
	}

	if _, err := e.Destroy(ctx, p, nil); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	res, err = e.StateResources(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 0 {
		t.Fatalf("state after destroy: %+v, want empty", res)
	}
	// Destroy and DeleteWorkspace are idempotent.
	if _, err := e.Destroy(ctx, p, nil); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := e.DeleteWorkspace(ctx, p); err != nil {
			t.Fatalf("delete workspace #%d: %v", i+1, err)
		}
	}
	if _, err := os.Stat(e.workdir(p)); !os.IsNotExist(err) {
		t.Errorf("workdir still exists after DeleteWorkspace (err=%v)", err)
	}
	// A destroyed and deleted project has nothing, and asking does not
	// create its workspace again.
	r, err := e.Destroy(ctx, p, nil)
	if err != nil {
		t.Fatalf("destroy after delete: %v", err)
	}
	if !strings.Contains(r.Log, "nothing to destroy") {
		t.Errorf("destroy of a deleted workspace should say so; log:\n%s", r.Log)
	}
	if outs, err := e.Outputs(ctx, p, nil); err != nil || len(outs) != 0 {
		t.Errorf("outputs after delete = %v, %v; want none", outs, err)
	}
	if ws := listWorkspaces(t, e); strings.Contains(ws, p.workspace()) {
		t.Errorf("workspace %s recreated by destroy/outputs: %s", p.workspace(), ws)
	}
}

// filterValues keeps only the named attributes of planned resources, so a
// test does not depend on every attribute terraform reports.
func filterValues(keep ...string) cmp.Option {
	return cmp.Transformer("filterValues", func(r PlannedResource) PlannedResource {
		v := map[string]any{}
		for _, k := range keep {
			if x, ok := r.Values[k]; ok {
				v[k] = x
			}
		}
		r.Values = v
		return r
	})
}

// listWorkspaces runs `terraform workspace list` in the admin workdir.
func listWorkspaces(t *testing.T, e *Engine) string {
	t.Helper()
	r, err := e.adminRun(testContext(t), "list")
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	var list []string
	if _, err := r.terraform("workspace list", false, func(ctx context.Context, tf *tfexec.Terraform) error {
		var err error
		list, _, err = tf.WorkspaceList(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(list, ",")
}

func TestWorkspaceName(t *testing.T) {
	seen := map[string][2]string{}
	for _, ids := range [][2]string{{"a-b", "c"}, {"a", "b-c"}, {"a--p-b", "c"}, {"a", "b--p-c"}, {"alice", "demo"}} {
		ws := WorkspaceName(ids[0], ids[1])
		if prev, dup := seen[ws]; dup {
			t.Errorf("%v and %v share workspace %q", prev, ids, ws)
		}
		seen[ws] = ids
		if filepath.Base(ws) != ws {
			t.Errorf("workspace %q is not a plain name", ws)
		}
	}
	if got := WorkspaceName("alice", "demo"); got != "alice_demo" {
		t.Errorf("WorkspaceName = %q", got)
	}
}

// TestProviderNotInstallable: a provider that the configured sources cannot
// supply yields ErrProviderNotInstallable with terraform's diagnostic. The
// aws provider is routed to an empty filesystem mirror, so the test never
// touches the network, whatever the machine.
func TestProviderNotInstallable(t *testing.T) {
	t.Parallel()
	mirror := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, "", func(c *Config) { c.FilesystemMirror = mirror })
	p := Project{UserID: "hank", ProjectID: "aws", Region: "us-east-1", Files: map[string]string{"main.tf": `
resource "aws_s3_bucket" "b" {
  bucket_prefix = "b-"
}
`}}
	_, err := e.Plan(testContext(t), p, nil)
	if !errors.Is(err, ErrProviderNotInstallable) {
		t.Fatalf("err = %s, want ErrProviderNotInstallable", describe(err))
	}
	// One sentence with the cause and the remedy comes first.
	if first, _, _ := strings.Cut(err.Error(), "\n"); !strings.Contains(first, "provider registry") || !strings.Contains(first, "TF_PROVIDER_MIRROR") {
		t.Errorf("the first line does not name the cause and the remedy: %q", first)
	}
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Op != "init" || len(ce.Diagnostics) == 0 || !strings.Contains(ce.Diagnostics[0].Detail, "hashicorp/aws") {
		t.Errorf("diagnostics should name the provider: %s", describe(err))
	}
	if errors.Is(err, ErrStateLocked) {
		t.Error("classified as a lock error too")
	}
}

// RemoveWorkdir drops a destroyed project's cached work directory; a
// missing one is fine.
func TestRemoveWorkdir(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	p := Project{UserID: "ivy", ProjectID: "gone", Files: map[string]string{"main.tf": `resource "terraform_data" "a" {}`}}
	mustPlan(t, e, p, nil)
	if _, err := os.Stat(e.workdir(p)); err != nil {
		t.Fatalf("no work directory after a plan: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := e.RemoveWorkdir(testContext(t), p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(e.workdir(p)); !os.IsNotExist(err) {
		t.Fatalf("work directory still there: %v", err)
	}
}
