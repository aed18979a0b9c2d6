// Package tf owns everything Terraform: finding or installing the binary,
// rendering a project's working directory, and running init, plan, apply,
// destroy and output through hashicorp/terraform-exec with an environment
// built from nothing. The policy check of tenant configuration lives in the
// sub-package tf/policy.
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
