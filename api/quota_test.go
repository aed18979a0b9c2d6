package api

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
)

func TestQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice, root := e.token("alice", false), e.token("root", true)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", "/api/v1/users/alice/projects/two", alice, spec(1)).wantStatus(t, http.StatusCreated)
	// The reconciler's figures, as it would record them after an apply.
	e.reconciled(keyAliceDemo, store.Status{Phase: store.PhaseReady, ResourceCount: 3, EstimatedMonthlyCostUSD: 12.5})

	quota := func(token string) map[string]any {
		t.Helper()
		r := e.do("GET", "/api/v1/users/alice/quota", token, nil)
		r.wantStatus(t, http.StatusOK)
		var q map[string]any
		r.decode(t, &q)
		return q
	}
	want := map[string]any{
		"userId": "alice", "projects": 2.0, "resources": 3.0, "maxResources": 10.0,
		"monthlyCostUSD": 12.5, "maxMonthlyCostPerProjectUSD": 50.0,
		"override": map[string]any{"maxResources": nil, "maxMonthlyCostUSD": nil},
	}
	if diff := cmp.Diff(want, quota(alice)); diff != "" {
		t.Errorf("quota (-want +got):\n%s", diff)
	}

	// Only an admin sets limits; a user cannot raise their own.
	e.do("PUT", "/api/v1/users/alice/quota", alice, `{"maxResources": 1000}`).wantError(t, http.StatusForbidden, codeForbidden)
	r := e.do("PUT", "/api/v1/users/alice/quota", root, `{"maxResources": 20, "maxMonthlyCostUSD": 80}`)
	r.wantStatus(t, http.StatusOK)
	want["maxResources"], want["maxMonthlyCostPerProjectUSD"] = 20.0, 80.0
	want["override"] = map[string]any{"maxResources": 20.0, "maxMonthlyCostUSD": 80.0}
	var got map[string]any
	r.decode(t, &got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PUT quota answer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, quota(alice)); diff != "" {
		t.Errorf("quota after the override (-want +got):\n%s", diff)
	}

	// The override is the user's per-project cost cap and default.
	p := e.do("PUT", "/api/v1/users/alice/projects/three", alice, spec(1)).project(t)
	if p.Spec.MaxMonthlyCostUSD != 80 {
		t.Errorf("default maxMonthlyCostUSD = %g, want the override 80", p.Spec.MaxMonthlyCostUSD)
	}
	over := spec(1)
	over["maxMonthlyCostUSD"] = 81
	e.do("PUT", "/api/v1/users/alice/projects/three", alice, over).wantError(t, http.StatusUnprocessableEntity, codeInvalidSpec)
	over["maxMonthlyCostUSD"] = 70 // above MAX_COST_PER_PROJECT, within the override
	e.do("PUT", "/api/v1/users/alice/projects/three", alice, over).wantStatus(t, http.StatusOK)

	// null (or omitted) goes back to the defaults.
	e.do("PUT", "/api/v1/users/alice/quota", root, `{"maxResources": null}`).wantStatus(t, http.StatusOK)
	q := quota(alice)
	if q["maxResources"] != 10.0 || q["maxMonthlyCostPerProjectUSD"] != 50.0 {
		t.Errorf("after clearing the override: %v", q)
	}

	for _, body := range []string{`{"maxResources": -1}`, `{"maxMonthlyCostUSD": -0.5}`, `{"maxResources": 2000000}`} {
		e.do("PUT", "/api/v1/users/alice/quota", root, body).wantError(t, http.StatusUnprocessableEntity, codeInvalidRequest)
	}
	e.do("PUT", "/api/v1/users/alice/quota", root, `{"max": 1}`).wantError(t, http.StatusBadRequest, codeBadRequest)
}
