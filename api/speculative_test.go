package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
)

// TestSpeculativePlanRoutes: POST .../plan checks the body as PUT does and
// queues a speculative plan (202, Location) that leaves the project as it
// was and creates none; its findings, once a worker recorded them, are on
// GET .../plans/{id} and on the run of kind speculative in the history.
func TestSpeculativePlanRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	before, err := e.st.GetProject(ctx, keyAliceDemo)
	if err != nil {
		t.Fatal(err)
	}

	r := e.do("POST", projectPathAliceDemo+"/plan", alice, spec(2))
	r.wantStatus(t, http.StatusAccepted)
	var v speculativeView
	r.decode(t, &v)
	if v.Kind != "speculative" || v.Outcome != "queued" || v.RunID != 1 || v.Generation != 1 || v.Admission != nil {
		t.Errorf("queued plan: %+v", v)
	}
	if loc := r.header.Get("Location"); loc != projectPathAliceDemo+"/plans/"+strconv.FormatInt(v.ID, 10) {
		t.Errorf("Location %q", loc)
	}
	after, err := e.st.GetProject(ctx, keyAliceDemo)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("queueing a speculative plan changed the project (-before +after):\n%s", diff)
	}

	// A worker records what it found; the API shows it.
	sp, ok, err := e.st.ClaimSpeculativePlan(ctx, store.Claim{Owner: "w", LeaseFor: 60e9}, "rec")
	if err != nil || !ok || sp.RowID != v.ID {
		t.Fatalf("claim: %+v %v %v", sp, ok, err)
	}
	found := &store.SpeculativeFindings{ProjectExists: true,
		Changes:   []store.SpeculativeChange{{Address: "terraform_data.a", Type: "terraform_data", Action: "update"}},
		Admission: store.Verdict{Verdict: store.VerdictBlocked, Reason: "QuotaExceeded", Message: "would be blocked: quota: 11 in all, over the limit of 10"},
		Policy:    store.Verdict{Verdict: store.VerdictPassed, Message: "the configuration and the plan pass the policy"}}
	cost := 0.0
	if err := e.st.FinishSpeculativePlan(ctx, sp.RowID, sp.LeaseToken, store.RunResult{Outcome: store.OutcomeSucceeded,
		PlanSummary: map[string]int{"add": 0, "change": 1, "destroy": 0}, EstimatedMonthlyCostUSD: &cost}, found, t0); err != nil {
		t.Fatal(err)
	}
	e.do("GET", projectPathAliceDemo+"/plans/"+strconv.FormatInt(v.ID, 10), alice, nil).decode(t, &v)
	if v.Outcome != "succeeded" || v.Change != 1 || len(v.Changes) != 1 || v.Admission == nil ||
		!strings.HasPrefix(v.Admission.Message, "would be blocked: quota") || v.Policy == nil || v.Policy.Verdict != "passed" {
		t.Errorf("finished plan: %+v", v)
	}
	var runs struct {
		Items []struct {
			ID        int64  `json:"id"`
			Kind      string `json:"kind"`
			Operation string `json:"operation"`
			Outcome   string `json:"outcome"`
		} `json:"items"`
	}
	e.do("GET", projectPathAliceDemo+"/runs", alice, nil).decode(t, &runs)
	if len(runs.Items) != 1 || runs.Items[0].Kind != "speculative" || runs.Items[0].Operation != "plan" || runs.Items[0].Outcome != "succeeded" {
		t.Errorf("run history: %+v", runs.Items)
	}
	var run struct {
		Speculative store.SpeculativeFindings `json:"speculative"`
	}
	e.do("GET", projectPathAliceDemo+"/runs/1", alice, nil).decode(t, &run)
	if run.Speculative.Admission.Verdict != "blocked" {
		t.Errorf("the run does not carry the findings: %+v", run.Speculative)
	}

	// A project that does not exist: queued, and not created.
	r = e.do("POST", "/api/v1/users/alice/projects/fresh/plan", alice, spec(3))
	r.wantStatus(t, http.StatusAccepted)
	var fresh speculativeView
	r.decode(t, &fresh)
	if fresh.RunID != 0 || fresh.Generation != 0 {
		t.Errorf("a new project's plan: %+v", fresh)
	}
	e.do("GET", "/api/v1/users/alice/projects/fresh", alice, nil).wantError(t, http.StatusNotFound, codeNotFound)
	e.do("GET", "/api/v1/users/alice/projects/fresh/plans/"+strconv.FormatInt(fresh.ID, 10), alice, nil).wantStatus(t, http.StatusOK)
	// Only under its own project, and only for its user.
	e.do("GET", projectPathAliceDemo+"/plans/"+strconv.FormatInt(fresh.ID, 10), alice, nil).wantError(t, http.StatusNotFound, codeNotFound)
	e.do("GET", "/api/v1/users/alice/projects/fresh/plans/"+strconv.FormatInt(fresh.ID, 10), e.token("bob", false), nil).wantError(t, http.StatusNotFound, codeNotFound)
	e.do("GET", projectPathAliceDemo+"/plans/x", alice, nil).wantError(t, http.StatusBadRequest, codeBadRequest)

	// The door: what PUT refuses, except the policy's findings.
	bad := spec(1)
	bad["ttlMinutes"] = 0
	e.do("POST", projectPathAliceDemo+"/plan", alice, bad).wantError(t, http.StatusUnprocessableEntity, codeInvalidSpec)
	syntax := map[string]any{"files": map[string]string{"main.tf": `resource "terraform_data" "a" {`}}
	e.do("POST", projectPathAliceDemo+"/plan", alice, syntax).wantError(t, http.StatusUnprocessableEntity, codeSyntaxError)
	provisioner := map[string]any{"files": map[string]string{"main.tf": `resource "terraform_data" "a" {
  provisioner "local-exec" { command = "true" }
}`}}
	e.do("POST", projectPathAliceDemo+"/plan", alice, provisioner).wantStatus(t, http.StatusAccepted)

	// At most MaxOpenSpeculativePlans open per user (two are open now).
	for i := 2; i < store.MaxOpenSpeculativePlans; i++ {
		e.do("POST", projectPathAliceDemo+"/plan", alice, spec(i)).wantStatus(t, http.StatusAccepted)
	}
	r = e.do("POST", projectPathAliceDemo+"/plan", alice, spec(99))
	r.wantError(t, http.StatusTooManyRequests, codeRateLimited)
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	// A project being destroyed: 409.
	e.do("DELETE", projectPathAliceDemo, alice, nil).wantStatus(t, http.StatusAccepted)
	carol := e.token("carol", false)
	e.do("PUT", "/api/v1/users/carol/projects/x", carol, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("DELETE", "/api/v1/users/carol/projects/x", carol, nil).wantStatus(t, http.StatusAccepted)
	msg := e.do("POST", "/api/v1/users/carol/projects/x/plan", carol, spec(1)).wantError(t, http.StatusConflict, codeConflict)
	if !strings.Contains(msg.Error.Message, "being destroyed") {
		t.Errorf("409: %q", msg.Error.Message)
	}
	var raw map[string]json.RawMessage
	e.do("GET", projectPathAliceDemo+"/plans/"+strconv.FormatInt(v.ID, 10), alice, nil).decode(t, &raw)
	for _, k := range []string{"admission", "policy", "changes", "costEstimate", "logTail"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("the plan lacks %q", k)
		}
	}
}
