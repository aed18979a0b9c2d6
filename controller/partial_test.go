package controller

import (
	"context"
	"testing"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// Quota after a partial apply: an apply stopped by a limit after it
// created part of its plan leaves those resources counted against the
// user's quota, so another project cannot take their room.
func TestQuotaAfterAPartialApply(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxResourcesPerUser = 3 })
	three := store.Spec{Region: "us-east-1", TTLMinutes: 60, MaxMonthlyCostUSD: 50, Files: map[string]string{"main.tf": `
resource "terraform_data" "a" {}
resource "terraform_data" "b" {}
resource "terraform_data" "c" {}
`}}
	h.fake.applyHook = func(ctx context.Context, p tf.Project) error {
		if p.ProjectID != "big" {
			return nil
		}
		// Two of three created, then the CPU limit killed terraform.
		ws := tf.WorkspaceName(p.UserID, p.ProjectID)
		if err := h.fake.writeState(ctx, ws, 1, []string{"terraform_data.a", "terraform_data.b"}); err != nil {
			return err
		}
		return &tf.LimitError{Limit: tf.LimitCPU, Value: "600s", Op: "apply"}
	}
	h.put("uma", "big", three)
	h.reconcileDue()
	big := h.get("uma", "big")
	if c, _ := findCondition(big.Status, CondReady); big.Status.Phase != store.PhaseFailed || c.Reason != ReasonLimitExceeded {
		t.Fatalf("big: phase %s, reason %s; want a terminal LimitExceeded failure", big.Status.Phase, c.Reason)
	}
	if got := max(big.Status.ResourceCount, big.Status.ReservedResources); got != 2 {
		t.Errorf("big holds 2 resources in its state but counts %d against the quota", got)
	}

	h.put("uma", "other", three)
	h.reconcileDue()
	other := h.get("uma", "other")
	held := h.fake.resources("uma/big") + h.fake.resources("uma/other")
	if other.Status.Phase != store.PhaseBlocked || held > 3 {
		t.Fatalf("other: phase %s; %d resources held against a quota of 3; want other Blocked by the quota", other.Status.Phase, held)
	}
}
