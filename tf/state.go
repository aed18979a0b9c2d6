package tf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"go.uber.org/zap"
)

// Destroy destroys every resource of the project. It is idempotent: a
// project whose workspace never existed, or whose resources are already
// gone, is destroyed successfully without creating anything.
func (e *Engine) Destroy(ctx context.Context, p Project, creds *Credentials) (*Result, error) {
	r, done, err := e.begin(ctx, "destroy", p, creds, true)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := r.ensureInit(); err != nil {
		return nil, err
	}
	exists, err := r.useWorkspace(false)
	if err != nil {
		return nil, err
	}
	if !exists {
		r.log.note("workspace " + p.workspace() + " does not exist: nothing to destroy")
		return &Result{Log: r.log.String(), Duration: r.elapsed()}, nil
	}
	if _, _, err := r.direct("destroy", stdoutJSONUI,
		"destroy", "-json", "-input=false", "-auto-approve", "-lock-timeout="+r.lockTimeout()); err != nil {
		return nil, err
	}
	e.log.Info("terraform destroy", zap.String("workspace", p.workspace()), zap.Duration("took", r.elapsed()))
	return &Result{Log: r.log.String(), Duration: r.elapsed()}, nil
}

// Outputs returns the project's root module outputs, with sensitive ones
// replaced by SensitiveMask. A project without a workspace has none.
//
// Values are bounded (issue: a 1 KB configuration can output 40 MB, which
// the reconciler stores and the API returns): a value whose JSON is larger
// than Config.MaxOutputBytes, or that would bring the total past
// Config.MaxOutputsTotalBytes (outputs taken in name order), is replaced by
// a TruncatedOutput marker saying how big it was.
func (e *Engine) Outputs(ctx context.Context, p Project, creds *Credentials) (map[string]any, error) {
	// Read from the state in the backend: no workdir, init or terraform
	// process is needed, and the values are those `terraform output -json`
	// prints (pgstate.go).
	r, done, err := e.begin(ctx, "output", p, creds, false)
	if err != nil {
		return nil, err
	}
	defer done()
	metas, err := r.stateOutputs()
	if err != nil {
		return nil, err
	}
	return boundOutputs(metas, r.red, e.cfg.MaxOutputBytes, e.cfg.MaxOutputsTotalBytes)
}

// TruncatedOutput replaces an output value over the size limits.
type TruncatedOutput struct {
	Truncated bool `json:"truncated"`
	// Bytes is the size of the value's JSON.
	Bytes int `json:"bytes"`
}

func boundOutputs(metas map[string]tfexec.OutputMeta, red *redactor, maxEach, maxTotal int) (map[string]any, error) {
	out := make(map[string]any, len(metas))
	total := 0
	for _, name := range sortedKeys(metas) {
		m := metas[name]
		if m.Sensitive {
			out[name] = SensitiveMask
			continue
		}
		// terraform prints outputs indented; the size that matters is
		// that of the value as stored.
		var compact bytes.Buffer
		if err := json.Compact(&compact, m.Value); err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		size := compact.Len()
		if size > maxEach || total+size > maxTotal {
			out[name] = TruncatedOutput{Truncated: true, Bytes: size}
			continue
		}
		var v any
		if err := json.Unmarshal(compact.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		total += size
		out[name] = red.redactValue(v)
	}
	return out, nil
}

// StateResource is one managed resource instance in a project's state.
type StateResource struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	// ARN is the resource's "arn" attribute; empty when it has none
	// (e.g. terraform_data, random_*).
	ARN string `json:"arn,omitempty"`
	// Deposed is the deposed key of an object a failed
	// create_before_destroy replacement left behind (ParseState only).
	Deposed string `json:"deposed,omitempty"`
}

// StateResources lists the managed resources in the project's state, for
// comparing with the tagged inventory. A project without a workspace has
// none.
func (e *Engine) StateResources(ctx context.Context, p Project, creds *Credentials) ([]StateResource, error) {
	r, done, err := e.begin(ctx, "state", p, creds, true)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := r.ensureInit(); err != nil {
		return nil, err
	}
	if exists, err := r.useWorkspace(false); err != nil || !exists {
		return nil, err
	}
	st, err := r.showState()
	if err != nil {
		return nil, err
	}
	var out []StateResource
	if st != nil && st.Values != nil {
		collectState(st.Values.RootModule, &out)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}

func collectState(m *tfjson.StateModule, out *[]StateResource) {
	if m == nil {
		return
	}
	for _, r := range m.Resources {
		if r == nil || r.Mode != tfjson.ManagedResourceMode {
			continue
		}
		arn, _ := r.AttributeValues["arn"].(string)
		*out = append(*out, StateResource{Address: r.Address, Type: r.Type, ARN: arn})
	}
	for _, c := range m.ChildModules {
		collectState(c, out)
	}
}
