package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf/policy"
)

func TestPutCreatesThenBumpsGenerationOnlyOnChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)

	r := e.do("PUT", projectPathAliceDemo, alice, spec(1))
	r.wantStatus(t, http.StatusCreated)
	if got := r.header.Get("ETag"); got != `"1"` {
		t.Errorf("ETag after create = %s, want \"1\"", got)
	}
	if got := r.header.Get("Location"); got != projectPathAliceDemo {
		t.Errorf("Location = %q, want %q", got, projectPathAliceDemo)
	}
	created := r.project(t)
	if created.Generation != 1 {
		t.Fatalf("generation after create = %d, want 1", created.Generation)
	}

	e.clock.Add(time.Minute)
	r = e.do("PUT", projectPathAliceDemo, alice, spec(1))
	r.wantStatus(t, http.StatusOK)
	if p := r.project(t); p.Generation != 1 || !p.UpdatedAt.Equal(created.UpdatedAt) {
		t.Errorf("the same spec changed the project: generation %d, updatedAt %s", p.Generation, p.UpdatedAt)
	}
	if got := r.header.Get("ETag"); got != `"1"` {
		t.Errorf("ETag after the same spec = %s, want \"1\"", got)
	}

	r = e.do("PUT", projectPathAliceDemo, alice, spec(2))
	r.wantStatus(t, http.StatusOK)
	if p := r.project(t); p.Generation != 2 || string(p.Spec.Variables["n"]) != "2" {
		t.Errorf("changed spec: generation %d, n %s; want 2, 2", p.Generation, p.Spec.Variables["n"])
	}
	if got := r.header.Get("ETag"); got != `"2"` {
		t.Errorf("ETag after a change = %s, want \"2\"", got)
	}

	r = e.do("GET", projectPathAliceDemo, alice, nil)
	r.wantStatus(t, http.StatusOK)
	if got := r.header.Get("ETag"); got != `"2"` {
		t.Errorf("GET ETag = %s, want \"2\"", got)
	}
}

func TestPutAppliesDefaultsAndShowsAFreshStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.do("PUT", projectPathAliceDemo, e.token("alice", false),
		`{"files": {"main.tf": "resource \"terraform_data\" \"a\" {}"}}`)
	r.wantStatus(t, http.StatusCreated)

	var got map[string]any
	r.decode(t, &got)
	want := map[string]any{
		"userId": "alice", "projectId": "demo", "generation": 1.0,
		"createdAt": "2030-03-04T05:06:07Z", "updatedAt": "2030-03-04T05:06:07Z",
		"expiresAt":           "2030-03-04T06:06:07Z", // default TTL 60 minutes
		"deletionRequestedAt": nil,
		"spec": map[string]any{
			"region":            "us-east-1",
			"files":             map[string]any{"main.tf": `resource "terraform_data" "a" {}`},
			"variables":         map[string]any{},
			"ttlMinutes":        60.0,
			"maxMonthlyCostUSD": 50.0,
			"requireApproval":   false,
		},
		"status": map[string]any{
			"phase": "Pending", "observedGeneration": 0.0, "resourceCount": 0.0, "reservedResources": 0.0, "reservedMonthlyCostUSD": 0.0,
			"estimatedMonthlyCostUSD": 0.0, "outputs": map[string]any{}, "conditions": []any{},
			"lastAppliedAt": nil, "lastVerifiedAt": nil, "message": "", "lastError": "", "attempts": 0.0, "nextAttemptAt": nil,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("project (-want +got):\n%s", diff)
	}
}

func TestStatusAsTheReconcilerWroteIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	applied := t0.Add(time.Minute)
	e.reconciled(keyAliceDemo, store.Status{
		Phase: store.PhaseReady, ObservedGeneration: 1, ResourceCount: 1, EstimatedMonthlyCostUSD: 0.5,
		Outputs:       map[string]any{"url": "https://x.example"},
		Conditions:    []store.Condition{{Type: "Ready", Status: "True", Reason: "Applied", LastTransitionTime: applied}},
		LastAppliedAt: &applied, LastVerifiedAt: &applied, Message: "applied", Attempts: 0,
	})
	var got struct {
		Status map[string]any `json:"status"`
	}
	e.do("GET", projectPathAliceDemo, alice, nil).decode(t, &got)
	want := map[string]any{
		"phase": "Ready", "observedGeneration": 1.0, "resourceCount": 1.0, "reservedResources": 0.0, "reservedMonthlyCostUSD": 0.0, "estimatedMonthlyCostUSD": 0.5,
		"outputs": map[string]any{"url": "https://x.example"},
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Applied", "message": "",
			"lastTransitionTime": "2030-03-04T05:07:07Z"}},
		"lastAppliedAt": "2030-03-04T05:07:07Z", "lastVerifiedAt": "2030-03-04T05:07:07Z",
		"message": "applied", "lastError": "", "attempts": 0.0, "nextAttemptAt": nil,
	}
	if diff := cmp.Diff(want, got.Status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	// Deletion shows at once, before any reconciler has seen it.
	r := e.do("DELETE", projectPathAliceDemo, alice, nil)
	if p := r.project(t); p.Status.Phase != "Destroying" || p.Status.ObservedGeneration != 1 {
		t.Errorf("after DELETE: %+v", p.Status)
	}
}

// Specs come back as written: HCL full of <, > and & is not turned into
// \u003c escapes, and variables keep their JSON values.
func TestSpecRoundTripsAsWritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	main := "locals {\n  ok = 1 < 2 && 3 > 2\n  doc = <<EOT\n<html>\nEOT\n}\n"
	body := `{"files": {"main.tf": ` + strconv.Quote(main) + `}, "variables": {"list": [1, "a", {"b": null}], "flag": true}}`
	r := e.do("PUT", projectPathAliceDemo, e.token("alice", false), body)
	r.wantStatus(t, http.StatusCreated)
	if !strings.Contains(string(r.body), `<<EOT\n<html>`) || !strings.Contains(string(r.body), "1 < 2 && 3 > 2") {
		t.Errorf("HCL escaped in the answer: %s", r.body)
	}
	p := r.project(t)
	if p.Spec.Files["main.tf"] != main {
		t.Errorf("main.tf came back as %q", p.Spec.Files["main.tf"])
	}
	if got := string(p.Spec.Variables["list"]); got != `[1,"a",{"b":null}]` {
		t.Errorf("variable list came back as %s", got)
	}
}

func TestZeroPolicyMeansTheDefaultRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Policy = policy.Rules{} })
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	bad := map[string]any{"files": map[string]string{"main.tf": `data "http" "x" { url = "http://169.254.169.254/" }`}}
	e.do("PUT", projectPathAliceDemo, alice, bad).wantError(t, http.StatusUnprocessableEntity, codePolicyViolation)
}

func TestIfMatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)

	// On a project that does not exist, any precondition fails.
	e.do("PUT", projectPathAliceDemo, alice, spec(1), "If-Match", `"1"`).wantError(t, http.StatusPreconditionFailed, codePreconditionFailed)
	e.do("PUT", projectPathAliceDemo, alice, spec(1), "If-Match", "*").wantError(t, http.StatusPreconditionFailed, codePreconditionFailed)
	e.do("GET", projectPathAliceDemo, alice, nil).wantError(t, http.StatusNotFound, codeNotFound)

	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", projectPathAliceDemo, alice, spec(2), "If-Match", `"1"`).wantStatus(t, http.StatusOK) // now 2

	r := e.do("PUT", projectPathAliceDemo, alice, spec(3), "If-Match", `"1"`)
	r.wantError(t, http.StatusPreconditionFailed, codePreconditionFailed)
	if p := e.do("GET", projectPathAliceDemo, alice, nil).project(t); p.Generation != 2 || string(p.Spec.Variables["n"]) != "2" {
		t.Fatalf("a failed precondition changed the project: generation %d, n %s", p.Generation, p.Spec.Variables["n"])
	}

	e.do("PUT", projectPathAliceDemo, alice, spec(3), "If-Match", "2").wantStatus(t, http.StatusOK) // bare number
	e.do("PUT", projectPathAliceDemo, alice, spec(4), "If-Match", "*").wantStatus(t, http.StatusOK)
	if p := e.do("GET", projectPathAliceDemo, alice, nil).project(t); p.Generation != 4 {
		t.Fatalf("generation = %d, want 4", p.Generation)
	}
	for _, bad := range []string{`W/"4"`, `"4`, "four", "0", `"1", "2"`} {
		e.do("PUT", projectPathAliceDemo, alice, spec(5), "If-Match", bad).wantError(t, http.StatusBadRequest, codeBadRequest)
	}
}

func TestStrictBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	files := `"files": {"main.tf": "resource \"terraform_data\" \"a\" {}"}`
	for _, tc := range []struct {
		name, body, wantMessage string
	}{
		{"unknown field", `{` + files + `, "x": 1}`, `unknown field "x" in the request body`},
		{"field in the wrong case", `{` + files + `, "Region": "us-east-1"}`, `unknown field "Region" in the request body`},
		{"repeated field", `{` + files + `, "ttlMinutes": 5, "ttlMinutes": 6}`, `field "ttlMinutes" appears more than once`},
		{"trailing data", `{` + files + `} {}`, "unexpected data after the JSON object"},
		{"trailing garbage", `{` + files + `}x`, "unexpected data after the JSON object"},
		{"not an object", `[1]`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"empty", ``, "the request body is empty"},
		{"invalid JSON", `{"files": }`, "not valid JSON"},
		{"cut short", `{"files": {"a.tf": "x"`, "ends in the middle"},
		{"wrong type", `{` + files + `, "ttlMinutes": "60"}`, `field "ttlMinutes" must be an integer, not string`},
		{"fractional integer", `{` + files + `, "ttlMinutes": 1.5}`, `field "ttlMinutes" must be an integer`},
		{"file content not a string", `{"files": {"main.tf": 1}}`, `field "files`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("PUT", projectPathAliceDemo, alice, tc.body)
			got := r.wantError(t, http.StatusBadRequest, codeBadRequest)
			if !strings.Contains(got.Error.Message, tc.wantMessage) {
				t.Errorf("message %q does not contain %q", got.Error.Message, tc.wantMessage)
			}
		})
	}
	e.do("GET", projectPathAliceDemo, alice, nil).wantError(t, http.StatusNotFound, codeNotFound)
}

func TestOversizedBodyIs413(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 4096 })
	alice := e.token("alice", false)
	big := spec(1)
	big["files"].(map[string]string)["big.tf"] = "# " + strings.Repeat("x", 5000)
	e.do("PUT", projectPathAliceDemo, alice, big).wantError(t, http.StatusRequestEntityTooLarge, codePayloadTooLarge)
	e.do("POST", projectPathAliceDemo+"/extend", alice, `{"ttlMinutes": 1`+strings.Repeat(" ", 5000)+`}`).
		wantError(t, http.StatusRequestEntityTooLarge, codePayloadTooLarge)
	// Just under the limit is fine.
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
}

func TestDefaultBodyLimitIsOneMiB(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	big := spec(1)
	big["files"].(map[string]string)["big.tf"] = "# " + strings.Repeat("x", 1<<20)
	e.do("PUT", projectPathAliceDemo, e.token("alice", false), big).wantError(t, http.StatusRequestEntityTooLarge, codePayloadTooLarge)
}

func TestSpecValidationNamesTheField(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	files := map[string]string{"main.tf": `resource "terraform_data" "a" {}`}
	for _, tc := range []struct {
		name        string
		body        map[string]any
		field, text string
	}{
		{"region not allowed", map[string]any{"files": files, "region": "eu-west-1"}, "region", "us-east-1, us-west-2"},
		{"empty region", map[string]any{"files": files, "region": ""}, "region", "omit it for the default"},
		{"ttl zero", map[string]any{"files": files, "ttlMinutes": 0}, "ttlMinutes", "0 is not forever"},
		{"ttl negative", map[string]any{"files": files, "ttlMinutes": -5}, "ttlMinutes", "positive"},
		{"ttl over 30 days", map[string]any{"files": files, "ttlMinutes": 30*24*60 + 1}, "ttlMinutes", "maximum"},
		{"negative cost", map[string]any{"files": files, "maxMonthlyCostUSD": -1}, "maxMonthlyCostUSD", "negative"},
		{"cost over the cap", map[string]any{"files": files, "maxMonthlyCostUSD": 50.01}, "maxMonthlyCostUSD", "MAX_COST_PER_PROJECT"},
		{"no files", map[string]any{"region": "us-east-1"}, "files", "at least one"},
		{"empty files", map[string]any{"files": map[string]string{}}, "files", "at least one"},
		{"variables not an object", map[string]any{"files": files, "variables": []int{1}}, "variables", "JSON object"},
		{"variables a string", map[string]any{"files": files, "variables": "n=1"}, "variables", "JSON object"},
		{"bad variable name", map[string]any{"files": files, "variables": map[string]any{"1n": 1}}, "variables.1n", "variable name"},
		{"reserved variable name", map[string]any{"files": files, "variables": map[string]any{"count": 1}}, "variables.count", "reserves"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.do("PUT", projectPathAliceDemo, alice, tc.body).wantError(t, http.StatusUnprocessableEntity, codeInvalidSpec)
			if !strings.Contains(got.Error.Message, tc.field+": ") || !strings.Contains(got.Error.Message, tc.text) {
				t.Errorf("message %q does not name %s with %q", got.Error.Message, tc.field, tc.text)
			}
			var details []fieldProblem
			for _, d := range got.Error.Details {
				var fp fieldProblem
				json.Unmarshal(d, &fp)
				details = append(details, fp)
			}
			if len(details) != 1 || details[0].Field != tc.field {
				t.Errorf("details = %+v, want one problem with field %s", details, tc.field)
			}
		})
	}

	// Every problem is reported at once.
	got := e.do("PUT", projectPathAliceDemo, alice, map[string]any{"region": "mars-1", "ttlMinutes": 0}).
		wantError(t, http.StatusUnprocessableEntity, codeInvalidSpec)
	if len(got.Error.Details) != 3 || !strings.HasPrefix(got.Error.Message, "3 problems") {
		t.Errorf("want 3 problems (region, files, ttlMinutes), got %s", got.Error.Message)
	}
	e.do("GET", projectPathAliceDemo, alice, nil).wantError(t, http.StatusNotFound, codeNotFound)

	// The limits themselves are accepted.
	ok := map[string]any{"files": files, "region": "us-west-2", "ttlMinutes": 30 * 24 * 60, "maxMonthlyCostUSD": 50, "requireApproval": true}
	p := e.do("PUT", projectPathAliceDemo, alice, ok).project(t)
	if p.Spec.Region != "us-west-2" || p.Spec.TTLMinutes != 43200 || p.Spec.MaxMonthlyCostUSD != 50 || !p.Spec.RequireApproval {
		t.Errorf("spec not stored as written: %+v", p.Spec)
	}
	if want := t0.Add(30 * 24 * time.Hour); !p.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt = %s, want %s", p.ExpiresAt, want)
	}
}

func TestPolicyViolationIs422WithFileAndLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	body := map[string]any{"files": map[string]string{
		"main.tf": "resource \"terraform_data\" \"a\" {\n  provisioner \"local-exec\" {\n    command = \"id\"\n  }\n}\n",
	}}
	r := e.do("PUT", projectPathAliceDemo, e.token("alice", false), body)
	got := r.wantError(t, http.StatusUnprocessableEntity, codePolicyViolation)
	if got.Error.Message != "1 problem in the configuration" {
		t.Errorf("message = %q", got.Error.Message)
	}
	var v []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Message string `json:"message"`
	}
	for _, d := range got.Error.Details {
		var one struct {
			File    string `json:"file"`
			Line    int    `json:"line"`
			Message string `json:"message"`
		}
		json.Unmarshal(d, &one)
		v = append(v, one)
	}
	if len(v) != 1 || v[0].File != "main.tf" || v[0].Line != 2 || !strings.Contains(v[0].Message, "provisioner") {
		t.Errorf("details = %+v, want main.tf line 2 about the provisioner", v)
	}
	e.do("GET", projectPathAliceDemo, e.token("alice", false), nil).wantError(t, http.StatusNotFound, codeNotFound)

	// The allowed regions are the policy's too.
	body = map[string]any{"files": map[string]string{
		"main.tf": "provider \"aws\" {\n  alias  = \"x\"\n  region = \"eu-west-1\"\n}\n",
	}}
	got = e.do("PUT", projectPathAliceDemo, e.token("alice", false), body).wantError(t, http.StatusUnprocessableEntity, codePolicyViolation)
	if !strings.Contains(string(got.Error.Details[0]), "eu-west-1") {
		t.Errorf("details = %s, want the region refused", got.Error.Details)
	}
}

func TestDeleteIs202AndKeepsTheProjectAsDestroying(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.clock.Add(time.Minute)

	r := e.do("DELETE", projectPathAliceDemo, alice, nil)
	r.wantStatus(t, http.StatusAccepted)
	p := r.project(t)
	if p.DeletionRequestedAt == nil || !p.DeletionRequestedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("deletionRequestedAt = %v, want %s", p.DeletionRequestedAt, t0.Add(time.Minute))
	}
	if p.Status.Phase != "Destroying" {
		t.Errorf("phase = %s, want Destroying", p.Status.Phase)
	}
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag = %q", r.header.Get("ETag"))
	}

	// The row stays until the reconciler finishes.
	g := e.do("GET", projectPathAliceDemo, alice, nil).project(t)
	if g.DeletionRequestedAt == nil || g.Status.Phase != "Destroying" {
		t.Errorf("after DELETE, GET shows %+v", g)
	}
	// Repeating it is harmless and keeps the first request time.
	e.clock.Add(time.Minute)
	again := e.do("DELETE", projectPathAliceDemo, alice, nil)
	again.wantStatus(t, http.StatusAccepted)
	if p2 := again.project(t); !p2.DeletionRequestedAt.Equal(*p.DeletionRequestedAt) {
		t.Errorf("a second DELETE moved deletionRequestedAt to %s", p2.DeletionRequestedAt)
	}
	// A project being destroyed takes no new spec, extension or approval.
	e.do("PUT", projectPathAliceDemo, alice, spec(2)).wantError(t, http.StatusConflict, codeConflict)
	e.do("POST", projectPathAliceDemo+"/extend", alice, `{"ttlMinutes": 5}`).wantError(t, http.StatusConflict, codeConflict)
	e.do("POST", projectPathAliceDemo+"/approve", alice, `{"generation": 1}`).wantError(t, http.StatusConflict, codeConflict)

	e.do("DELETE", "/api/v1/users/alice/projects/ghost", alice, nil).wantError(t, http.StatusNotFound, codeNotFound)

	// Once the finalizer is done, the 410 says the project was destroyed,
	// and its final status says so too, not Destroying.
	done := e.claimed(keyAliceDemo)
	if err := e.st.DeleteFinalized(t.Context(), keyAliceDemo, done.LeaseToken, done.UID, "Deleted", done.Status, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	gone := e.do("GET", projectPathAliceDemo, alice, nil)
	if gone.status != http.StatusGone || !strings.Contains(string(gone.body), "was destroyed and removed") {
		t.Errorf("GET of a destroyed project: %d %s", gone.status, gone.body)
	}
	if !strings.Contains(string(gone.body), `"phase":"Destroyed"`) {
		t.Errorf("410 body does not carry phase Destroyed: %s", gone.body)
	}
}

func TestExtendAndApprove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", projectPathAliceDemo, alice, spec(2)).wantStatus(t, http.StatusOK) // generation 2

	e.clock.Add(10 * time.Minute)
	r := e.do("POST", projectPathAliceDemo+"/extend", alice, `{"ttlMinutes": 120}`)
	r.wantStatus(t, http.StatusOK)
	p := r.project(t)
	if want := t0.Add(10*time.Minute + 120*time.Minute); !p.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt = %s, want now + 120 min = %s", p.ExpiresAt, want)
	}
	if p.Generation != 2 || p.Spec.TTLMinutes != 60 {
		t.Errorf("extend changed the spec: generation %d, ttlMinutes %d", p.Generation, p.Spec.TTLMinutes)
	}
	for _, body := range []string{`{"ttlMinutes": 0}`, `{"ttlMinutes": -1}`, `{"ttlMinutes": 43201}`} {
		e.do("POST", projectPathAliceDemo+"/extend", alice, body).wantError(t, http.StatusUnprocessableEntity, codeInvalidRequest)
	}
	e.do("POST", projectPathAliceDemo+"/extend", alice, `{"minutes": 5}`).wantError(t, http.StatusBadRequest, codeBadRequest)

	// ttlMinutes omitted, or no body at all: the default TTL from now, as
	// the message for 0 promises.
	for _, body := range []any{`{}`, `{"ttlMinutes": null}`, nil} {
		e.clock.Add(time.Minute)
		p := e.do("POST", projectPathAliceDemo+"/extend", alice, body).project(t)
		if want := e.clock.Now().Add(60 * time.Minute); !p.ExpiresAt.Equal(want) {
			t.Errorf("extend with %v: expiresAt = %s, want now + the default 60 min = %s", body, p.ExpiresAt, want)
		}
	}
	e.do("POST", "/api/v1/users/alice/projects/ghost/extend", alice, `{"ttlMinutes": 5}`).wantError(t, http.StatusNotFound, codeNotFound)

	// Without requireApproval there is nothing to approve: a 409 says so.
	msg := e.do("POST", projectPathAliceDemo+"/approve", alice, `{"generation": 2}`).wantError(t, http.StatusConflict, codeConflict).Error.Message
	if !strings.Contains(msg, "does not require approval") {
		t.Errorf("approve without requireApproval says %q", msg)
	}
	e.do("POST", "/api/v1/users/alice/projects/ghost/approve", alice, `{"generation": 1}`).wantError(t, http.StatusNotFound, codeNotFound)

	// With it, approval names the plan awaiting approval: none yet is a
	// 409, and so is another run or generation.
	gated := spec(3)
	gated["requireApproval"] = true
	e.do("PUT", projectPathAliceDemo, alice, gated).wantStatus(t, http.StatusOK) // generation 3
	e.do("POST", projectPathAliceDemo+"/approve", alice, `{"generation": 3}`).wantError(t, http.StatusConflict, codeConflict)
	e.do("POST", projectPathAliceDemo+"/approve", alice, `{}`).wantError(t, http.StatusUnprocessableEntity, codeInvalidRequest)
	ctx := t.Context()
	p3 := e.claimed(keyAliceDemo)
	ref, err := e.st.StartRun(ctx, p3, p3.LeaseToken, store.OpPlan, "Spec", "rec", "test", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.FinishRun(ctx, ref.RowID, store.RunResult{Outcome: store.OutcomeSucceeded, Planfile: []byte("plan")}, t0); err != nil {
		t.Fatal(err)
	}
	st := p3.Status
	st.Phase, st.PendingPlanRun = store.PhaseAwaitingApproval, ref.Number
	if err := e.st.FinishReconcile(ctx, keyAliceDemo, p3.LeaseToken, st, p3.Revision, t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	e.do("POST", projectPathAliceDemo+"/approve", alice, fmt.Sprintf(`{"runId": %d}`, ref.Number+1)).wantError(t, http.StatusConflict, codeConflict)
	e.do("POST", projectPathAliceDemo+"/approve", alice, `{"generation": 2}`).wantError(t, http.StatusConflict, codeConflict)
	e.do("POST", projectPathAliceDemo+"/approve", alice, fmt.Sprintf(`{"runId": %d}`, ref.Number)).wantStatus(t, http.StatusOK)
	got, err := e.st.GetProject(ctx, keyAliceDemo)
	if err != nil {
		t.Fatal(err)
	}
	if got.ApprovedRun != ref.Number {
		t.Errorf("approved run = %d, want %d", got.ApprovedRun, ref.Number)
	}

	// Applied and Ready: approving again says nothing waits, and why.
	p4 := e.claimed(keyAliceDemo)
	st = p4.Status
	st.Phase, st.PendingPlanRun, st.ObservedGeneration = store.PhaseReady, 0, p4.Generation
	if err := e.st.FinishReconcile(ctx, keyAliceDemo, p4.LeaseToken, st, p4.Revision, t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	msg = e.do("POST", projectPathAliceDemo+"/approve", alice, `{"generation": 3}`).wantError(t, http.StatusConflict, codeConflict).Error.Message
	if !strings.Contains(msg, "nothing of project alice/demo awaits approval") || !strings.Contains(msg, "Ready") {
		t.Errorf("approve after Ready says %q", msg)
	}
}

// Fifty clients write fifty different specs at once: every write must be
// counted, none lost to a race between reading and bumping the generation.
func TestConcurrentPutsLoseNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	const writers = 50
	statuses := make([]int, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			statuses[i] = e.do("PUT", projectPathAliceDemo, alice, spec(i)).status
		})
	}
	wg.Wait()
	created := 0
	for i, s := range statuses {
		if s == http.StatusCreated {
			created++
		} else if s != http.StatusOK {
			t.Errorf("writer %d got %d", i, s)
		}
	}
	if created != 1 {
		t.Errorf("%d writers created the project, want exactly 1", created)
	}
	if p := e.do("GET", projectPathAliceDemo, alice, nil).project(t); p.Generation != writers {
		t.Errorf("generation = %d after %d distinct specs, want %d", p.Generation, writers, writers)
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	for _, id := range []string{"e", "a", "d", "c", "b"} {
		e.do("PUT", "/api/v1/users/alice/projects/"+id, alice, spec(1)).wantStatus(t, http.StatusCreated)
	}
	e.do("PUT", "/api/v1/users/bob/projects/z", e.token("bob", false), spec(1)).wantStatus(t, http.StatusCreated)

	var pages [][]string
	after := ""
	for range 10 {
		r := e.do("GET", "/api/v1/users/alice/projects?limit=2&after="+after, alice, nil)
		r.wantStatus(t, http.StatusOK)
		var page struct {
			Items []project `json:"items"`
			Next  *string   `json:"next"`
		}
		r.decode(t, &page)
		if page.Next == nil {
			t.Fatalf("next missing from %s", r.body)
		}
		var ids []string
		for _, p := range page.Items {
			ids = append(ids, p.ProjectID)
		}
		pages = append(pages, ids)
		if after = *page.Next; after == "" {
			break
		}
	}
	if diff := cmp.Diff([][]string{{"a", "b"}, {"c", "d"}, {"e"}}, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}

	r := e.do("GET", "/api/v1/users/alice/projects", alice, nil)
	if !strings.Contains(string(r.body), `"next":""`) {
		t.Errorf("last page must have next \"\": %s", r.body)
	}
	var empty map[string]any
	e.do("GET", "/api/v1/users/carol/projects", e.token("carol", false), nil).decode(t, &empty)
	if diff := cmp.Diff(map[string]any{"items": []any{}, "next": ""}, empty); diff != "" {
		t.Errorf("empty list (-want +got):\n%s", diff)
	}

	for _, q := range []string{"limit=0", "limit=501", "limit=x", "after=%21%21", "limt=5", "limit=1&limit=2"} {
		t.Run(q, func(t *testing.T) {
			got := e.do("GET", "/api/v1/users/alice/projects?"+q, alice, nil).wantError(t, http.StatusBadRequest, codeBadRequest)
			name, _, _ := strings.Cut(q, "=")
			if !strings.Contains(got.Error.Message, name) {
				t.Errorf("message %q does not name %s", got.Error.Message, name)
			}
		})
	}
}

func TestAdminListsEveryUsersProjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, k := range []string{"alice/a", "alice/b", "bob/c", "carol/d"} {
		u, p, _ := strings.Cut(k, "/")
		e.do("PUT", "/api/v1/users/"+u+"/projects/"+p, e.token(u, false), spec(1)).wantStatus(t, http.StatusCreated)
	}
	e.do("DELETE", "/api/v1/users/carol/projects/d", e.token("carol", false), nil).wantStatus(t, http.StatusAccepted)
	root := e.token("root", true)

	keys := func(query string) []string {
		t.Helper()
		r := e.do("GET", "/api/v1/projects"+query, root, nil)
		r.wantStatus(t, http.StatusOK)
		var page struct{ Items []project }
		r.decode(t, &page)
		out := []string{}
		for _, p := range page.Items {
			out = append(out, p.UserID+"/"+p.ProjectID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"alice/a", "alice/b", "bob/c", "carol/d"}, keys("")); diff != "" {
		t.Errorf("all projects (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bob/c"}, keys("?userId=bob")); diff != "" {
		t.Errorf("?userId=bob (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"alice/a", "alice/b", "bob/c", "carol/d"}, keys("?phase=Pending")); diff != "" {
		t.Errorf("?phase=Pending (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{}, keys("?phase=Ready")); diff != "" {
		t.Errorf("?phase=Ready (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"alice/b", "bob/c"}, keys("?limit=2&after="+cursorAfter(t, e, root))); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}
	for _, q := range []string{"?phase=Nope", "?userId=Bob", "?limit=0", "?user=bob"} {
		e.do("GET", "/api/v1/projects"+q, root, nil).wantError(t, http.StatusBadRequest, codeBadRequest)
	}

	// An admin may act for any user, on every user route.
	e.do("GET", "/api/v1/users/bob/projects/c", root, nil).wantStatus(t, http.StatusOK)
	e.do("PUT", "/api/v1/users/bob/projects/c", root, spec(2)).wantStatus(t, http.StatusOK)
	e.do("GET", "/api/v1/users/bob/projects", root, nil).wantStatus(t, http.StatusOK)
	// ... but path parameters are still validated.
	e.do("GET", "/api/v1/users/Bob/projects", root, nil).wantError(t, http.StatusBadRequest, codeBadRequest)
}

// cursorAfter returns the cursor after the first project of the admin list.
func cursorAfter(t *testing.T, e *env, token string) string {
	t.Helper()
	var page struct{ Next string }
	e.do("GET", "/api/v1/projects?limit=1", token, nil).decode(t, &page)
	if page.Next == "" {
		t.Fatal("no cursor after the first project")
	}
	return page.Next
}

func TestPathParametersAreValidated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	for _, id := range []string{"Demo", "1demo", "de_mo", strings.Repeat("a", 41), "-demo"} {
		got := e.do("GET", "/api/v1/users/alice/projects/"+id, alice, nil).wantError(t, http.StatusBadRequest, codeBadRequest)
		if !strings.Contains(got.Error.Message, "projectId") {
			t.Errorf("message %q does not name projectId", got.Error.Message)
		}
	}
	e.do("PUT", "/api/v1/users/alice/projects/"+strings.Repeat("a", 40), alice, spec(1)).wantStatus(t, http.StatusCreated)
	got := e.do("GET", "/api/v1/users/ALICE/projects", e.token("root", true), nil).wantError(t, http.StatusBadRequest, codeBadRequest)
	if !strings.Contains(got.Error.Message, "userId") {
		t.Errorf("message %q does not name userId", got.Error.Message)
	}
	// Before authentication nothing is validated: an anonymous caller
	// learns nothing, not even which names are well formed.
	e.do("GET", "/api/v1/users/alice/projects/Demo", "", nil).wantError(t, http.StatusUnauthorized, codeUnauthorized)
}

func ExampleSignToken() {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, _ := SignToken([]byte("secret"), "alice", false, time.Hour, now)
	fmt.Println(strings.Count(tok, "."))
	// Output: 2
}

// TestProjectLimitPerUser: MAX_PROJECTS_PER_USER refuses a user's next new
// project with a 409 naming the limit, even when the PUTs race; updates of
// existing projects and other users' projects are unaffected.
func TestProjectLimitPerUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.MaxProjectsPerUser = 3 })
	alice := e.token("alice", false)

	// Six creations at once: exactly three succeed.
	var wg sync.WaitGroup
	statuses := make(chan int, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- e.do("PUT", fmt.Sprintf("/api/v1/users/alice/projects/p%d", i), alice, spec(1)).status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 3 || count[http.StatusConflict] != 3 {
		t.Fatalf("six concurrent creations under a limit of 3 answered %v, want 3 × 201 and 3 × 409", count)
	}

	r := e.do("PUT", "/api/v1/users/alice/projects/one-more", alice, spec(1))
	msg := r.wantError(t, http.StatusConflict, "Conflict").Error.Message
	for _, want := range []string{"already has 3 projects", "MAX_PROJECTS_PER_USER", "delete one"} {
		if !strings.Contains(msg, want) {
			t.Errorf("409 message %q does not contain %q", msg, want)
		}
	}
	// An existing project can still change, and bob is not alice.
	var existing string
	for i := range 6 {
		p := fmt.Sprintf("/api/v1/users/alice/projects/p%d", i)
		if e.do("GET", p, alice, nil).status == http.StatusOK {
			existing = p
			break
		}
	}
	e.do("PUT", existing, alice, spec(2)).wantStatus(t, http.StatusOK)
	e.do("PUT", "/api/v1/users/bob/projects/p0", e.token("bob", false), spec(1)).wantStatus(t, http.StatusCreated)
}

// TestPutNamesAMissingVariable: a root variable without a default and
// without a value in "variables" is a 422 at the door that names the
// variable and the field, not a plan failure later.
func TestPutNamesAMissingVariable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	body := map[string]any{"files": map[string]string{
		"main.tf":      "resource \"terraform_data\" \"a\" {\n  input = \"${var.name}-${var.size}\"\n}\n",
		"variables.tf": "variable \"name\" {\n  type = string\n}\n\nvariable \"size\" {\n  default = 1\n}\n",
	}}
	r := e.do("PUT", projectPathAliceDemo, alice, body)
	msg := r.wantError(t, http.StatusUnprocessableEntity, codeInvalidSpec).Error.Message
	for _, want := range []string{"variables.name", `variable "name" (variables.tf:1) has no default`, `"variables"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("422 message %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "size") {
		t.Errorf("a variable with a default was reported missing: %q", msg)
	}
	body["variables"] = map[string]any{"name": "web"}
	e.do("PUT", projectPathAliceDemo, alice, body).wantStatus(t, http.StatusCreated)
}

// TestPutNamesSyntaxErrors: a file terraform cannot parse is a SyntaxError
// naming the file and line, not a PolicyViolation.
func TestPutNamesSyntaxErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	body := map[string]any{"files": map[string]string{
		"main.tf": "resource \"terraform_data\" \"a\" {\n  input = \"x\"\n\n",
	}}
	r := e.do("PUT", projectPathAliceDemo, alice, body)
	msg := r.wantError(t, http.StatusUnprocessableEntity, codeSyntaxError).Error.Message
	if !strings.Contains(msg, "syntax error at main.tf:") {
		t.Errorf("422 message %q does not name the file and line of the syntax error", msg)
	}
	// A policy refusal of a file that parses stays a PolicyViolation.
	body["files"] = map[string]string{"main.tf": "resource \"terraform_data\" \"a\" {\n  provisioner \"local-exec\" {\n    command = \"id\"\n  }\n}\n"}
	e.do("PUT", projectPathAliceDemo, alice, body).wantError(t, http.StatusUnprocessableEntity, codePolicyViolation)
}
