package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf/policy"
)

// Speculative plans: POST .../projects/{projectId}/plan takes a spec as PUT
// does and queues a plan of it that is never applied; GET
// .../projects/{projectId}/plans/{planId} shows how it went. The project's
// spec, status, reservations and state are never touched, and a project
// that does not exist is not created.

// msgPlanNotFound is the 404 of a speculative plan (no names: see
// msgProjectNotFound).
const msgPlanNotFound = "speculative plan not found"

// speculativeRetryAfterSeconds is the Retry-After of a user's full
// speculative plan queue: about one plan's time.
const speculativeRetryAfterSeconds = 10

// speculativeView is a speculative plan as the API shows it.
type speculativeView struct {
	// ID names the plan for GET .../plans/{planId}.
	ID int64 `json:"id"`
	// RunID is the plan's number in the project's run history; absent for
	// a project that did not exist when it was requested.
	RunID     int64  `json:"runId,omitempty"`
	UserID    string `json:"userId"`
	ProjectID string `json:"projectId"`
	Kind      string `json:"kind"`
	// Outcome is queued, running, succeeded or failed. Succeeded means
	// the preview was made: the verdicts say whether the spec would pass.
	Outcome string `json:"outcome"`
	// Generation is the project's generation when the plan was requested
	// (0: the project did not exist).
	Generation      int64      `json:"generation"`
	StartedAt       time.Time  `json:"startedAt"`
	FinishedAt      *time.Time `json:"finishedAt"`
	DurationSeconds *float64   `json:"durationSeconds"`
	// ProjectExists: the plan was compared with the project's state;
	// false, planned from nothing. Null until it is planned.
	ProjectExists *bool `json:"projectExists"`
	// Add, Change and Destroy count the changes, as terraform does.
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
	// Changes is the action on every address it would change.
	Changes                 []store.SpeculativeChange `json:"changes"`
	ChangesOmitted          int                       `json:"changesOmitted,omitempty"`
	EstimatedMonthlyCostUSD *float64                  `json:"estimatedMonthlyCostUSD"`
	CostEstimate            json.RawMessage           `json:"costEstimate"`
	// Admission and Policy are the verdicts; null until it finishes.
	Admission   *store.Verdict  `json:"admission"`
	Policy      *store.Verdict  `json:"policy"`
	Error       string          `json:"error"`
	Diagnostics json.RawMessage `json:"diagnostics"`
	LogTail     string          `json:"logTail"`
	Omitted     []omission      `json:"omitted,omitempty"`
}

func speculativeOf(r store.Run) speculativeView {
	var l limiter
	v := speculativeView{
		ID: r.RowID, UserID: r.UserID, ProjectID: r.ProjectID, Kind: r.Kind, Outcome: r.Outcome,
		Generation: r.Generation, StartedAt: r.StartedAt.UTC(), FinishedAt: utc(r.FinishedAt),
		Changes:                 []store.SpeculativeChange{},
		EstimatedMonthlyCostUSD: r.EstimatedMonthlyCostUSD,
		CostEstimate:            l.document("costEstimate", r.CostEstimate),
		Error:                   l.head("error", r.Error, maxMessageBytes),
		Diagnostics:             l.document("diagnostics", r.Diagnostics),
		LogTail:                 l.tail("logTail", r.LogTail, maxLogTailBytes),
	}
	if r.Generation > 0 {
		v.RunID = r.ID
	}
	if r.FinishedAt != nil {
		d := r.FinishedAt.Sub(r.StartedAt).Seconds()
		v.DurationSeconds = &d
	}
	var counts struct{ Add, Change, Destroy int }
	if len(r.PlanSummary) > 0 && json.Unmarshal(r.PlanSummary, &counts) == nil {
		v.Add, v.Change, v.Destroy = counts.Add, counts.Change, counts.Destroy
	}
	var found store.SpeculativeFindings
	if len(r.Speculative) > 0 && json.Unmarshal(r.Speculative, &found) == nil {
		v.ProjectExists = &found.ProjectExists
		if found.Changes != nil {
			v.Changes = found.Changes
		}
		v.ChangesOmitted = found.ChangesOmitted
		v.Admission, v.Policy = &found.Admission, &found.Policy
	}
	v.Omitted = l.omitted
	return v
}

// speculativePath is the API path of one speculative plan.
func speculativePath(k store.Key, id int64) string {
	return projectPath(k) + "/plans/" + strconv.FormatInt(id, 10)
}

// planSpeculative queues a speculative plan of the body's spec: 202 with
// the plan and its Location. The body is checked as a PUT's is, except
// that the policy's findings are the plan's verdict, not a 422 (a syntax
// error still is one: nothing can be judged before the files parse).
func (s *server) planSpeculative(w http.ResponseWriter, r *http.Request, c *call) error {
	var req specRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	limit, err := s.costLimit(r.Context(), c.key.UserID)
	if err != nil {
		return err
	}
	spec, problems := s.spec(req, limit)
	if len(problems) > 0 {
		return invalid(codeInvalidSpec, problems)
	}
	// One parse for both checks, as a PUT's (checkedFiles).
	v, required := policy.CheckUpload(spec.Files, s.cfg.Policy)
	if hasSyntaxError(v) {
		return policyError(v)
	}
	if problems := missingVariables(spec, required); len(problems) > 0 {
		return invalid(codeInvalidSpec, problems)
	}
	run, err := s.st.QueueSpeculativePlan(r.Context(), c.key, spec, c.now)
	var full *store.SpeculativeLimitError
	if errors.As(err, &full) {
		e := newError(http.StatusTooManyRequests, codeRateLimited, "%s", full.Error())
		e.header = http.Header{"Retry-After": {strconv.Itoa(speculativeRetryAfterSeconds)}}
		return e
	}
	if err != nil {
		return fromStore(err, msgProjectNotFound)
	}
	w.Header().Set("Location", speculativePath(c.key, run.RowID))
	s.writeJSON(w, r, http.StatusAccepted, speculativeOf(run))
	return nil
}

func hasSyntaxError(vs []policy.Violation) bool {
	for _, v := range vs {
		if v.Reason == policy.ReasonSyntax {
			return true
		}
	}
	return false
}

// getSpeculativePlan shows one speculative plan of the project.
func (s *server) getSpeculativePlan(w http.ResponseWriter, r *http.Request, c *call) error {
	raw := mux.Vars(r)["planId"]
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return badRequest("path parameter planId %q must be a positive integer", raw)
	}
	run, err := s.st.GetSpeculativePlan(r.Context(), c.key, id)
	if err != nil {
		return fromStore(err, msgPlanNotFound)
	}
	s.writeJSON(w, r, http.StatusOK, speculativeOf(run))
	return nil
}
