package tf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantform/tenantform/tf/providers"
)

// TestInitSnapshot: a new project whose init digest another project's init
// had starts from that init's result, without init; a snapshot whose lock
// is not the platform's is not used.
func TestInitSnapshot(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	ctx := testContext(t)
	first := counterProject("sam", "first", 1)
	if plan, err := e.Plan(ctx, first, nil); err != nil || strings.Contains(plan.Log, "identical init") {
		t.Fatalf("the first project: %v %v", describe(err), plan)
	}
	second := counterProject("sam", "second", 2)
	plan, err := e.Plan(ctx, second, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	if !strings.Contains(plan.Log, "identical init") {
		t.Fatalf("the second project ran init:\n%s", plan.Log)
	}
	if _, err := e.Apply(ctx, second, plan, nil); err != nil {
		t.Fatal(describe(err))
	}
	if outs, err := e.Outputs(ctx, second, nil); err != nil || outs["n"] != float64(2) {
		t.Fatalf("outputs of the second project: %v %v", outs, err)
	}

	snaps, _ := filepath.Glob(filepath.Join(e.cfg.WorkRoot, initSnapshotsDir, "*"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots %v, want one", snaps)
	}
	lock := filepath.Join(snaps[0], providers.LockFileName)
	if err := os.WriteFile(lock, []byte("provider \"registry.terraform.io/hashicorp/aws\" {\n  version = \"5.1.0\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	third := counterProject("sam", "third", 3)
	plan, err = e.Plan(ctx, third, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	if strings.Contains(plan.Log, "identical init") {
		t.Fatalf("a snapshot with another lock was used:\n%s", plan.Log)
	}
	if b, err := os.ReadFile(filepath.Join(e.workdir(third), providers.LockFileName)); err != nil || !providers.Platform().RefinedBy(b) {
		t.Errorf("the lock after init is not the platform's: %v\n%s", err, b)
	}
}
