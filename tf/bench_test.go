package tf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
)

// BenchmarkPlanApply compares the engine's Plan+Apply of a terraform_data
// project with the raw terraform CLI running the same files:
//
//   - tenantform/new-project: a project never seen before (render, init,
//     the workspace's row, plan, show -json, apply);
//   - tenantform/update: the same project with a new variable value each
//     time (init skipped; plan, show -json, apply);
//   - terraform-cli/local-backend-new: init, plan -out, apply in a fresh
//     directory with the default local backend;
//   - terraform-cli/pg-backend-new: the same with the pg backend and a
//     new workspace (init, workspace new, plan -out, apply);
//   - terraform-cli/pg-backend-update: plan -out and apply in an
//     initialised directory with a new variable value.
//
// Run: go test ./tf -run XXX -bench . -benchtime 5x
func BenchmarkPlanApply(b *testing.B) {
	bin := terraformBinary(b)
	db := newTestDatabase(b)
	files := counterProject("x", "y", 0).Files

	b.Run("tenantform/new-project", func(b *testing.B) {
		run := benchRuns.Add(1) // -count repeats share the database
		e := newTestEngine(b, db, func(c *Config) { c.Logger = zap.NewNop() })
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			p := counterProject("bench", fmt.Sprintf("new%d-%d", run, i), i)
			plan, err := e.Plan(ctx, p, nil)
			if err != nil {
				b.Fatal(describe(err))
			}
			if _, err := e.Apply(ctx, p, plan, nil); err != nil {
				b.Fatal(describe(err))
			}
		}
	})

	b.Run("tenantform/update", func(b *testing.B) {
		run := benchRuns.Add(1) // -count repeats share the database
		e := newTestEngine(b, db, func(c *Config) { c.Logger = zap.NewNop() })
		ctx := context.Background()
		p := counterProject("bench", fmt.Sprintf("update%d", run), -1)
		warm, err := e.Plan(ctx, p, nil)
		if err != nil {
			b.Fatal(describe(err))
		}
		if _, err := e.Apply(ctx, p, warm, nil); err != nil {
			b.Fatal(describe(err))
		}
		for i := 0; b.Loop(); i++ {
			p.Variables = map[string]any{"n": i}
			plan, err := e.Plan(ctx, p, nil)
			if err != nil {
				b.Fatal(describe(err))
			}
			if plan.Summary.Change != 1 {
				b.Fatalf("plan: %+v, want 1 to change", plan.Summary)
			}
			if _, err := e.Apply(ctx, p, plan, nil); err != nil {
				b.Fatal(describe(err))
			}
		}
	})

	cli := newRawCLI(b, bin, db)
	b.Run("terraform-cli/local-backend-new", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			dir := cli.dir(b, files, false)
			cli.run(b, dir, "init", "-input=false", "-no-color")
			cli.run(b, dir, "plan", "-input=false", "-no-color", "-out=plan.tfplan", fmt.Sprintf("-var=n=%d", i))
			cli.run(b, dir, "apply", "-input=false", "-no-color", "-auto-approve", "plan.tfplan")
		}
	})
	b.Run("terraform-cli/pg-backend-new", func(b *testing.B) {
		run := benchRuns.Add(1) // -count repeats share the database
		for i := 0; b.Loop(); i++ {
			dir := cli.dir(b, files, true)
			cli.run(b, dir, "init", "-input=false", "-no-color")
			cli.run(b, dir, "workspace", "new", "-no-color", fmt.Sprintf("cli_new%d_%d", run, i))
			cli.run(b, dir, "plan", "-input=false", "-no-color", "-out=plan.tfplan", fmt.Sprintf("-var=n=%d", i))
			cli.run(b, dir, "apply", "-input=false", "-no-color", "-auto-approve", "plan.tfplan")
		}
	})
	b.Run("terraform-cli/pg-backend-update", func(b *testing.B) {
		run := benchRuns.Add(1) // -count repeats share the database
		dir := cli.dir(b, files, true)
		cli.run(b, dir, "init", "-input=false", "-no-color")
		cli.run(b, dir, "workspace", "new", "-no-color", fmt.Sprintf("cli_update%d", run))
		cli.run(b, dir, "apply", "-input=false", "-no-color", "-auto-approve", "-var=n=-1")
		for i := 0; b.Loop(); i++ {
			cli.run(b, dir, "plan", "-input=false", "-no-color", "-out=plan.tfplan", fmt.Sprintf("-var=n=%d", i))
			cli.run(b, dir, "apply", "-input=false", "-no-color", "-auto-approve", "plan.tfplan")
		}
	})
}

var benchRuns atomic.Int64

// rawCLI runs terraform directly, as an operator would by hand.
type rawCLI struct {
	bin  string
	root string
	env  []string
}

func newRawCLI(b *testing.B, bin, db string) *rawCLI {
	root := b.TempDir()
	rc := filepath.Join(root, "cli.tfrc")
	if err := os.WriteFile(rc, []byte("disable_checkpoint = true\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	return &rawCLI{bin: bin, root: root, env: []string{
		"PATH=" + DefaultSearchPath, "HOME=" + root, "TF_CLI_CONFIG_FILE=" + rc,
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "PG_CONN_STR=" + db,
	}}
}

func (c *rawCLI) dir(b *testing.B, files map[string]string, pg bool) string {
	dir, err := os.MkdirTemp(c.root, "w")
	if err != nil {
		b.Fatal(err)
	}
	if pg {
		files = map[string]string{"main.tf": files["main.tf"], "backend.tf": `terraform {
  backend "pg" {
    schema_name = "cli_bench"
  }
}
`}
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func (c *rawCLI) run(b *testing.B, dir string, args ...string) {
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = dir
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("terraform %v: %v\n%s", args, err, out)
	}
}
