package api

import (
	"net/http"
	"testing"
)

// A PUT is written in the round trip that reads the user's quota override
// only when there is none: a user whose override sets a cost cap gets
// that cap as the default and the bound of an existing project's spec,
// never MAX_COST_PER_PROJECT (50 here), whether the cap is above or below.
func TestPutOfAnExistingProjectTakesTheQuotaOverride(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice, root := e.token("alice", false), e.token("root", true)
	const path = "/api/v1/users/alice/projects/capped"
	if p := e.do("PUT", path, alice, spec(1)).project(t); p.Spec.MaxMonthlyCostUSD != 50 {
		t.Fatalf("without an override: maxMonthlyCostUSD %g, want MAX_COST_PER_PROJECT 50", p.Spec.MaxMonthlyCostUSD)
	}

	e.do("PUT", "/api/v1/users/alice/quota", root, `{"maxMonthlyCostUSD": 30}`).wantStatus(t, http.StatusOK)
	p := e.do("PUT", path, alice, spec(2)).project(t)
	if p.Spec.MaxMonthlyCostUSD != 30 || p.Generation != 2 {
		t.Fatalf("changed spec under an override of 30: maxMonthlyCostUSD %g generation %d, want 30 and 2", p.Spec.MaxMonthlyCostUSD, p.Generation)
	}
	// The same request again changes nothing.
	if p := e.do("PUT", path, alice, spec(2)).project(t); p.Spec.MaxMonthlyCostUSD != 30 || p.Generation != 2 {
		t.Fatalf("same spec: maxMonthlyCostUSD %g generation %d, want 30 and 2", p.Spec.MaxMonthlyCostUSD, p.Generation)
	}
	// 40 is within MAX_COST_PER_PROJECT but not within the override.
	over := spec(3)
	over["maxMonthlyCostUSD"] = 40
	e.do("PUT", path, alice, over).wantError(t, http.StatusUnprocessableEntity, codeInvalidSpec)

	// An override of resources only leaves the cost cap at the default.
	e.do("PUT", "/api/v1/users/alice/quota", root, `{"maxResources": 5, "maxMonthlyCostUSD": null}`).wantStatus(t, http.StatusOK)
	if p := e.do("PUT", path, alice, spec(4)).project(t); p.Spec.MaxMonthlyCostUSD != 50 || p.Generation != 3 {
		t.Fatalf("resources-only override: maxMonthlyCostUSD %g generation %d, want 50 and 3", p.Spec.MaxMonthlyCostUSD, p.Generation)
	}
	e.do("PUT", path, alice, over).wantStatus(t, http.StatusOK)
}
