// Package tf owns everything Terraform: finding or installing the binary,
// rendering a project's working directory, and running init, plan, apply,
// destroy and output through hashicorp/terraform-exec with an environment
// built from nothing. The policy check of tenant configuration lives in the
// sub-package tf/policy.
//
// Tenant configuration is hostile, and the engine contains it:
//
//   - Limits (limits.go): every terraform process starts through a
//     generated wrapper that sets RLIMIT_AS and RLIMIT_CPU before exec;
//     every operation has a wall-clock deadline (SIGINT, then SIGKILL of
//     terraform and its providers after StopGrace); what a process prints
//     is capped. Hitting one yields a *LimitError naming the limit.
//   - Diagnostics (diagnostics.go, classify.go): plan, apply and destroy run
//     with -json; each diagnostic's severity, summary, detail, file and line
//     is kept, redacted, on *CommandError, and IsConfigurationError tells
//     failures that only a new spec can fix from transient ones.
//   - Saved plans: Plan returns the planfile bytes (bounded) for the caller
//     to store; ApplySaved applies them on any engine sharing the state
//     backend, and reports ErrPlanStale when the state moved on.
//   - Bounded outputs: Outputs replaces values over the size limits by a
//     TruncatedOutput marker.
//   - ParseState reads the raw state the pg backend stores, without
//     running terraform.
package tf

// PlanSummary is what a saved plan will do, read from `terraform show -json`.
type PlanSummary struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
	// Resources lists every managed resource that exists once the plan is
	// applied (created, updated or left alone; not the destroyed ones).
	Resources []PlannedResource `json:"resources"`
}

// PlannedResource is one managed resource after apply.
type PlannedResource struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	// Values holds the attribute values known at plan time (unknown ones
	// are absent). Cost estimation reads e.g. billing_mode, memory_size.
	Values map[string]any `json:"values,omitempty"`
}

// HasChanges reports whether applying the plan would change anything.
func (s PlanSummary) HasChanges() bool { return s.Add+s.Change+s.Destroy > 0 }
