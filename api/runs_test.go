package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
)

func TestRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", "/api/v1/users/alice/projects/other", alice, spec(1)).wantStatus(t, http.StatusCreated)
	demo := e.claimed(keyAliceDemo)
	other := e.claimed(store.Key{UserID: "alice", ProjectID: "other"})

	planRef, err := e.st.StartRun(ctx, demo, demo.LeaseToken, store.OpPlan, "Spec", "rec-1", "replica-a", t0)
	planID := planRef.Number
	if err != nil {
		t.Fatal(err)
	}
	cost := 1.25
	plan := map[string]any{"add": 1, "change": 0, "destroy": 0,
		"resources": []any{map[string]any{"address": "terraform_data.a", "type": "terraform_data"}}}
	estimate := map[string]any{"lines": []any{map[string]any{"address": "terraform_data.a", "type": "terraform_data", "monthlyUSD": 1.25, "basis": "test"}}, "monthlyUSD": 1.25}
	if err := e.st.FinishRun(ctx, planRef.RowID, store.RunResult{Outcome: store.OutcomeSucceeded, PlanSummary: plan,
		CostEstimate: estimate, EstimatedMonthlyCostUSD: &cost, LogTail: "Plan: 1 to add"}, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	applyRef, err := e.st.StartRun(ctx, demo, demo.LeaseToken, store.OpApply, "Spec", "rec-1", "replica-a", t0.Add(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	applyID := applyRef.Number
	// Runs are numbered per project: the other project's first run is 1
	// too, and its second, 2, is not one of demo's.
	for i := 0; i < 3; i++ {
		if _, err := e.st.StartRun(ctx, other, other.LeaseToken, store.OpPlan, "Spec", "rec-2", "replica-a", t0); err != nil {
			t.Fatal(err)
		}
	}
	otherID := int64(3)

	// The list: newest first, summaries only; "next" is always there, as
	// in the projects list, and empty on the last page.
	var list struct {
		Items []map[string]any `json:"items"`
		Next  *string          `json:"next"`
	}
	e.do("GET", projectPathAliceDemo+"/runs", alice, nil).decode(t, &list)
	if list.Next == nil || *list.Next != "" {
		t.Errorf("the last page of runs has next = %v, want \"\"", list.Next)
	}
	var ids []float64
	for _, it := range list.Items {
		ids = append(ids, it["id"].(float64))
		if _, ok := it["logTail"]; ok {
			t.Errorf("a listed run carries its log tail: %v", it)
		}
	}
	if diff := cmp.Diff([]float64{float64(applyID), float64(planID)}, ids); diff != "" {
		t.Errorf("run ids (-want +got):\n%s", diff)
	}
	if got := list.Items[0]; got["outcome"] != "running" || got["finishedAt"] != nil || got["durationSeconds"] != nil {
		t.Errorf("running apply listed as %v", got)
	}
	if got := list.Items[1]; got["durationSeconds"] != 3.0 || got["estimatedMonthlyCostUSD"] != 1.25 {
		t.Errorf("finished plan listed as %v", got)
	}
	e.do("GET", projectPathAliceDemo+"/runs?limit=1", alice, nil).decode(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("?limit=1 gave %d runs", len(list.Items))
	}

	// One run in full.
	var run map[string]any
	e.do("GET", projectPathAliceDemo+"/runs/"+strconv.FormatInt(planID, 10), alice, nil).decode(t, &run)
	want := map[string]any{
		"id": float64(planID), "generation": 1.0, "operation": "plan", "kind": "reconcile", "outcome": "succeeded",
		"reconcileId": "rec-1", "owner": "replica-a", "reason": "Spec",
		"startedAt": "2030-03-04T05:06:07Z", "finishedAt": "2030-03-04T05:06:10Z", "durationSeconds": 3.0,
		"estimatedMonthlyCostUSD": 1.25, "error": "",
		"planSummary":  roundTrip(t, plan),
		"costEstimate": roundTrip(t, estimate),
		"diagnostics":  nil,
		"logTail":      "Plan: 1 to add",
	}
	if diff := cmp.Diff(want, run); diff != "" {
		t.Errorf("run (-want +got):\n%s", diff)
	}
	var running map[string]any
	e.do("GET", projectPathAliceDemo+"/runs/"+strconv.FormatInt(applyID, 10), alice, nil).decode(t, &running)
	if running["planSummary"] != nil || running["costEstimate"] != nil {
		t.Errorf("a run without a plan shows %v", running)
	}

	// Another project's run is not found here; bad ids are a 400.
	e.do("GET", projectPathAliceDemo+"/runs/"+strconv.FormatInt(otherID, 10), alice, nil).wantError(t, http.StatusNotFound, codeNotFound)
	for _, bad := range []string{"abc", "0", "-1", "1.5"} {
		e.do("GET", projectPathAliceDemo+"/runs/"+bad, alice, nil).wantError(t, http.StatusBadRequest, codeBadRequest)
	}
	e.do("GET", "/api/v1/users/alice/projects/ghost/runs", alice, nil).wantError(t, http.StatusNotFound, codeNotFound)
	e.do("GET", projectPathAliceDemo+"/runs?limit=0", alice, nil).wantError(t, http.StatusBadRequest, codeBadRequest)

	// A project without runs lists none, as [] not null.
	e.do("PUT", "/api/v1/users/alice/projects/empty", alice, spec(1)).wantStatus(t, http.StatusCreated)
	r := e.do("GET", "/api/v1/users/alice/projects/empty/runs", alice, nil)
	if string(r.body) != `{"items":[],"next":""}`+"\n" {
		t.Errorf("no runs: %s", r.body)
	}
}

// roundTrip is v as a client decodes it.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}
