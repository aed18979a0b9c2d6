package tf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	tfjson "github.com/hashicorp/terraform-json"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf/policy"
)

// A speculative plan shows what a configuration would do without ever
// being applied. It runs in a workdir of its own (never the project's,
// which the project's reconcile may be using) with a local backend holding
// a copy of the project's state, so it takes no state lock, cannot write
// the project's state, and its terraform gets no database connection.

// SpeculativePlan is what a speculative plan found.
type SpeculativePlan struct {
	Summary PlanSummary
	// Changes is the action on every resource the plan changes, sorted by
	// address.
	Changes []ResourceChange
	// Violations are the plan policy's findings, as on Plan.
	Violations []policy.Violation
	// Log is the redacted tail of the output of init and plan.
	Log string
}

// ResourceChange is the plan's action on one resource.
type ResourceChange struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	// Action is create, update, replace, delete or read.
	Action string `json:"action"`
}

// speculativeDir holds the short-lived workdirs of speculative plans under
// WorkRoot. Project workdirs are named after workspaces, which start with
// a letter: a dot-name never collides with one.
const speculativeDir = ".speculative"

// speculativeStateFile is where the copy of the project's state goes,
// inside the private directory of the workdir.
const speculativeStateFile = privateDir + "/speculative.tfstate"

// PlanSpeculative plans p against state (the raw state the pg backend
// keeps for the project, as Store.TerraformState returns it; nil for a
// project that has none) under the same policy, limits and sandbox as Plan,
// and throws the plan away. The workdir is removed afterwards.
func (e *Engine) PlanSpeculative(ctx context.Context, p Project, state []byte, creds *Credentials) (*SpeculativePlan, error) {
	if err := e.checkPolicy(p); err != nil {
		return nil, err
	}
	root := filepath.Join(e.cfg.WorkRoot, speculativeDir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("tf: %w", err)
	}
	dir, err := os.MkdirTemp(root, "p")
	if err != nil {
		return nil, fmt.Errorf("tf: %w", err)
	}
	defer os.RemoveAll(dir)

	r := e.newRun(ctx, "plan", dir, p.Region, creds)
	defer r.close()
	r.project = p
	// A local backend needs no database: none of its secrets reach this
	// terraform.
	delete(r.env, "PG_CONN_STR")
	info := analyze(p.Files)
	gen, err := generatedFiles(renderInput{
		project:       p,
		info:          info,
		schema:        e.cfg.PGSchema,
		endpointURL:   e.cfg.AWSEndpointURL,
		environment:   e.cfg.Environment,
		lock:          e.cfg.ProviderLock,
		boundaryARN:   e.cfg.Policy.PermissionsBoundaryARN,
		namePrefixTag: e.cfg.Policy.RequireNamePrefix,
	})
	if err != nil {
		return nil, err
	}
	if gen[backendFile], err = marshalFile(map[string]any{
		"terraform": map[string]any{"backend": map[string]any{"local": map[string]any{"path": speculativeStateFile}}},
	}); err != nil {
		return nil, err
	}
	if err := renderWorkdir(dir, p, gen); err != nil {
		return nil, fmt.Errorf("rendering workdir: %w", err)
	}
	if state != nil {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(speculativeStateFile)), state, 0o600); err != nil {
			return nil, fmt.Errorf("tf: writing the state copy: %w", err)
		}
	}
	r.initDigest = initDigest(e.baseDigest, info, gen)
	if err := r.ensureInit(); err != nil {
		return nil, err
	}
	file, cleanup, err := r.planFile(nil)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// The state is a private copy: no lock to take. As Plan, without
	// -detailed-exitcode: what the plan does is read from show.
	if _, _, err := r.direct("plan", stdoutJSONUI, "plan", "-json", "-input=false", "-lock=false", "-out="+file); err != nil {
		return nil, err
	}
	if err := r.checkSavedPlan(file); err != nil {
		return nil, err
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
	e.log.Info("terraform speculative plan",
		zap.String("workspace", p.workspace()), zap.Int("add", sum.Add),
		zap.Int("change", sum.Change), zap.Int("destroy", sum.Destroy), zap.Duration("took", r.elapsed()))
	return &SpeculativePlan{
		Summary:    sum,
		Changes:    resourceChanges(tfplan),
		Violations: policy.CheckPlan(tfplan, policy.PlanContext{Rules: e.cfg.Policy, Tags: PlatformTags(p, e.cfg.Environment)}),
		Log:        r.log.String(),
	}, nil
}

// resourceChanges lists the plan's action on every managed resource it
// changes, and on data sources it can only read at apply.
func resourceChanges(p *tfjson.Plan) []ResourceChange {
	if p == nil {
		return nil
	}
	var out []ResourceChange
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		a := rc.Change.Actions
		var action string
		switch {
		case a.Replace():
			action = "replace"
		case a.Create():
			action = "create"
		case a.Update():
			action = "update"
		case a.Delete():
			action = "delete"
		case a.Read():
			action = "read"
		default:
			continue // no-op
		}
		if rc.Mode != tfjson.ManagedResourceMode && action != "read" {
			continue
		}
		out = append(out, ResourceChange{Address: rc.Address, Type: rc.Type, Action: action})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}
