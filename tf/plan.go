package tf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf/policy"
)

// Plan is a saved plan: the file Apply applies and what it will do.
type Plan struct {
	// File is the saved plan inside the project's workdir. It is valid
	// until the next Plan of the project or a successful Apply.
	File    string
	Summary PlanSummary
	// Log is the redacted tail of the output of init and plan.
	Log string
	// Violations are the plan policy's findings (policy.CheckPlan with the
	// engine's rules and the project's platform tags; the caller adds the
	// quota and prices, see policy.PlanContext). Any ReasonPolicy one is
	// terminal: the plan must not be applied.
	Violations []policy.Violation
}

// Result is the outcome of an Apply or Destroy.
type Result struct {
	// Log is the redacted tail of the command's output.
	Log      string
	Duration time.Duration
}

const plansDir = privateDir + "/plans"

// Plan checks the policy, renders the workdir, runs init when something it
// depends on changed, selects (creating if needed) the project's workspace,
// and saves a plan whose summary is read from `terraform show -json`.
func (e *Engine) Plan(ctx context.Context, p Project, creds *Credentials) (*Plan, error) {
	r, done, err := e.begin(ctx, "plan", p, creds, true)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := r.ensureInit(); err != nil {
		return nil, err
	}
	if _, err := r.selectWorkspace(true); err != nil {
		return nil, err
	}

	dir := filepath.Join(r.dir, plansDir)
	// A newer plan makes older ones obsolete; never leave one to be applied
	// by mistake.
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	file := filepath.Join(dir, fmt.Sprintf("%d.tfplan", time.Now().UnixNano()))
	if _, err := r.terraform("plan", true, func(ctx context.Context, tf *tfexec.Terraform) error {
		_, err := tf.Plan(ctx, tfexec.Out(file), tfexec.LockTimeout(r.lockTimeout()))
		return err
	}); err != nil {
		return nil, err
	}
	var tfplan *tfjson.Plan
	if _, err := r.terraform("show", false, func(ctx context.Context, tf *tfexec.Terraform) error {
		var err error
		tfplan, err = tf.ShowPlanFile(ctx, file)
		return err
	}); err != nil {
		return nil, err
	}
	sum := summarize(tfplan)
	for i := range sum.Resources {
		if v, ok := r.red.redactValue(sum.Resources[i].Values).(map[string]any); ok {
			sum.Resources[i].Values = v
		}
	}
	e.log.Info("terraform plan",
		zap.String("workspace", p.workspace()), zap.Int("add", sum.Add),
		zap.Int("change", sum.Change), zap.Int("destroy", sum.Destroy),
		zap.Duration("took", r.elapsed()))
	violations := policy.CheckPlan(tfplan, policy.PlanContext{Rules: e.cfg.Policy, Tags: PlatformTags(p, e.cfg.Environment)})
	return &Plan{File: file, Summary: sum, Log: r.log.String(), Violations: violations}, nil
}

// Apply applies exactly the saved plan (never a new one): terraform refuses
// it if the state changed since it was made. The workdir is not rendered
// again, since the plan carries its own copy of the configuration.
func (e *Engine) Apply(ctx context.Context, p Project, plan *Plan, creds *Credentials) (*Result, error) {
	if plan == nil || plan.File == "" {
		return nil, errors.New("tf: Apply needs a plan made by Plan")
	}
	r, done, err := e.begin(ctx, "apply", p, creds, false)
	if err != nil {
		return nil, err
	}
	defer done()
	// The plan must be this project's and still current.
	if filepath.Dir(plan.File) != filepath.Join(r.dir, plansDir) {
		return nil, fmt.Errorf("tf: plan %s does not belong to project %s", plan.File, p.workspace())
	}
	if _, err := os.Stat(plan.File); err != nil {
		return nil, fmt.Errorf("tf: saved plan is gone (superseded or already applied): %w", err)
	}
	// Apply runs in whatever workspace is selected: make sure it is this
	// project's before anything can be written.
	if b, err := os.ReadFile(filepath.Join(r.dir, environmentFile)); err != nil || strings.TrimSpace(string(b)) != p.workspace() {
		return nil, fmt.Errorf("tf: workdir of %s does not have its workspace selected; plan again", p.workspace())
	}
	if _, err := r.terraform("apply", true, func(ctx context.Context, tf *tfexec.Terraform) error {
		return tf.Apply(ctx, tfexec.DirOrPlan(plan.File), tfexec.LockTimeout(r.lockTimeout()))
	}); err != nil {
		return nil, err
	}
	os.Remove(plan.File)
	e.log.Info("terraform apply", zap.String("workspace", p.workspace()), zap.Duration("took", r.elapsed()))
	return &Result{Log: r.log.String(), Duration: r.elapsed()}, nil
}

// summarize reads a plan's JSON representation.
//
// Counts follow terraform's own "Plan: X to add, Y to change, Z to destroy"
// line: a replacement counts once as add and once as destroy; data source
// reads and "forget" actions are not counted.
func summarize(p *tfjson.Plan) PlanSummary {
	var s PlanSummary
	if p == nil {
		return s
	}
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Mode != tfjson.ManagedResourceMode || rc.Change == nil {
			continue
		}
		a := rc.Change.Actions
		switch {
		case a.Replace():
			s.Add++
			s.Destroy++
		case a.Create():
			s.Add++
		case a.Update():
			s.Change++
		case a.Delete():
			s.Destroy++
		}
	}
	if p.PlannedValues != nil {
		collectPlanned(p.PlannedValues.RootModule, &s.Resources)
	}
	sort.Slice(s.Resources, func(i, j int) bool { return s.Resources[i].Address < s.Resources[j].Address })
	return s
}

func collectPlanned(m *tfjson.StateModule, out *[]PlannedResource) {
	if m == nil {
		return
	}
	for _, r := range m.Resources {
		if r == nil || r.Mode != tfjson.ManagedResourceMode {
			continue
		}
		*out = append(*out, PlannedResource{
			Address: r.Address,
			Type:    r.Type,
			Values:  maskSensitive(r.AttributeValues, r.SensitiveValues),
		})
	}
	for _, c := range m.ChildModules {
		collectPlanned(c, out)
	}
}

// SensitiveMask replaces sensitive values in outputs and plan summaries.
const SensitiveMask = "(sensitive)"

// maskSensitive returns values with every attribute terraform marks
// sensitive replaced by SensitiveMask. The summary ends up in the run
// history; a sensitive value must not. sensitive_values mirrors the shape
// of values with true at each sensitive leaf.
func maskSensitive(values map[string]any, sensitive json.RawMessage) map[string]any {
	if len(values) == 0 {
		return nil
	}
	var marks any
	if len(sensitive) > 0 {
		_ = json.Unmarshal(sensitive, &marks)
	}
	out, _ := maskValue(values, marks).(map[string]any)
	return out
}

func maskValue(v, mark any) any {
	if b, ok := mark.(bool); ok && b {
		return SensitiveMask
	}
	switch v := v.(type) {
	case map[string]any:
		m, _ := mark.(map[string]any)
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = maskValue(x, m[k])
		}
		return out
	case []any:
		l, _ := mark.([]any)
		out := make([]any, len(v))
		for i, x := range v {
			var mk any
			if i < len(l) {
				mk = l[i]
			}
			out[i] = maskValue(x, mk)
		}
		return out
	case json.Number:
		// Depending on how the JSON was decoded numbers may arrive as
		// json.Number; consumers (cost estimation) expect float64.
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	default:
		return v
	}
}
