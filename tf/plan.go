package tf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf/policy"
)

// Plan is a saved plan: the planfile terraform wrote and what it will do.
type Plan struct {
	// Bytes is the planfile (terraform's own format), at most
	// Config.MaxPlanBytes. It is self-contained: ApplySaved applies it on
	// any engine sharing the state backend, with any or no workdir. It
	// holds the configuration and the variable values: store it as
	// carefully as the spec.
	Bytes   []byte
	Summary PlanSummary
	// Log is the redacted tail of the output of init and plan.
	Log string
	// Violations are the plan policy's findings (policy.CheckPlan with the
	// engine's rules and the project's platform tags; the caller adds the
	// quota and prices, see policy.PlanContext). Any ReasonPolicy one is
	// terminal: the plan must not be applied.
	Violations []policy.Violation
	// Creates are the resources the plan creates (creates and the create
	// half of replacements), for the creation record an apply writes
	// before it starts.
	Creates []PlannedCreate
	// Imports is what the plan does to each resource it imports: an
	// adoption must never delete or replace what it adopts.
	Imports []ImportChange
}

// Result is the outcome of an Apply or Destroy.
type Result struct {
	// Log is the redacted tail of the command's output.
	Log      string
	Duration time.Duration
}

const plansDir = privateDir + "/plans"

// Plan checks the policy, renders the workdir, runs init when something it
// depends on changed, uses (creating if needed) the project's workspace,
// and saves a plan whose summary is read from `terraform show -json`. The
// planfile is returned as bytes and not kept in the workdir.
func (e *Engine) Plan(ctx context.Context, p Project, creds *Credentials) (*Plan, error) {
	r, done, err := e.begin(ctx, "plan", p, creds, true)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := r.ensureInit(); err != nil {
		return nil, err
	}
	if _, err := r.useWorkspace(true); err != nil {
		return nil, err
	}

	file, cleanup, err := r.planFile(nil)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// Without -detailed-exitcode: any exit status but 0 is a failure (a Go
	// panic or fatal error exits with 2, which -detailed-exitcode would
	// make "changes present"); what the plan does is read from show.
	if _, _, err := r.direct("plan", stdoutJSONUI,
		"plan", "-json", "-input=false", "-lock-timeout="+r.lockTimeout(), "-out="+file); err != nil {
		return nil, err
	}
	if err := r.checkSavedPlan(file); err != nil {
		return nil, err
	}
	planBytes, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tf: reading the saved plan: %w", err)
	}
	tfplan, err := r.showPlan(file)
	if err != nil {
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
		zap.Int("plan_bytes", len(planBytes)), zap.Duration("took", r.elapsed()))
	violations := policy.CheckPlan(tfplan, policy.PlanContext{Rules: e.cfg.Policy, Tags: PlatformTags(p, e.cfg.Environment)})
	return &Plan{Bytes: planBytes, Summary: sum, Log: r.log.String(), Violations: violations,
		Creates: PlannedCreates(tfplan, p.Region), Imports: importChanges(tfplan)}, nil
}

// planFile returns a fresh private path for a planfile in the workdir,
// holding content when it is not nil, and a function removing it. Older
// planfiles are removed first: none is ever left to be applied by mistake.
func (r *run) planFile(content []byte) (string, func(), error) {
	dir := filepath.Join(r.dir, plansDir)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	file := filepath.Join(dir, fmt.Sprintf("%d.tfplan", time.Now().UnixNano()))
	if content != nil {
		if err := os.WriteFile(file, content, 0o600); err != nil {
			return "", nil, fmt.Errorf("tf: writing the saved plan: %w", err)
		}
	}
	return file, func() { os.Remove(file) }, nil
}

// Apply applies exactly the saved plan (never a new one); see ApplySaved.
func (e *Engine) Apply(ctx context.Context, p Project, plan *Plan, creds *Credentials) (*Result, error) {
	if plan == nil {
		return nil, errors.New("tf: Apply needs a plan made by Plan")
	}
	return e.ApplySaved(ctx, p, plan.Bytes, creds)
}

// ApplySaved applies a planfile made by Plan (Plan.Bytes), on this or any
// other engine using the same state backend, whatever its workdir holds:
// none (another replica, a restart), or an older generation's. p must be
// the project the plan was made for: its workdir is rendered and
// initialised from it (the providers the plan needs), and its workspace
// selected. Terraform applies the configuration and variables the plan
// carries, never new ones, and refuses the plan when the state changed
// since it was made; the error then satisfies errors.Is(err, ErrPlanStale).
func (e *Engine) ApplySaved(ctx context.Context, p Project, planfile []byte, creds *Credentials) (*Result, error) {
	if len(planfile) == 0 {
		return nil, errors.New("tf: ApplySaved needs the bytes of a plan made by Plan")
	}
	if len(planfile) > e.cfg.MaxPlanBytes {
		return nil, &LimitError{Limit: LimitPlanSize, Value: fmt.Sprintf("%d bytes, the plan has %d", e.cfg.MaxPlanBytes, len(planfile)), Op: "apply"}
	}
	r, done, err := e.begin(ctx, "apply", p, creds, true)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := r.ensureInit(); err != nil {
		return nil, err
	}
	// Apply writes to whatever workspace is selected: it must be this
	// project's. A plan for a workspace that is gone can only be stale.
	exists, err := r.useWorkspace(false)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("%w: workspace %s no longer exists", ErrPlanStale, p.workspace())
	}
	file, cleanup, err := r.planFile(planfile)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if _, _, err := r.direct("apply", stdoutJSONUI,
		"apply", "-json", "-input=false", "-auto-approve", "-lock-timeout="+r.lockTimeout(), file); err != nil {
		return nil, err
	}
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

// checkSavedPlan checks the plan file terraform plan -out wrote: that it
// exists, and that it is within Config.MaxPlanBytes before anything reads
// it (show -json of a huge plan is as costly as the plan).
func (r *run) checkSavedPlan(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return r.commandError("plan", fmt.Errorf("terraform plan exited without writing the plan: %w", err), "", nil)
	}
	if fi.Size() > int64(r.e.cfg.MaxPlanBytes) {
		return &LimitError{Limit: LimitPlanSize, Value: fmt.Sprintf("%d bytes, the plan has %d", r.e.cfg.MaxPlanBytes, fi.Size()), Op: "plan"}
	}
	return nil
}
