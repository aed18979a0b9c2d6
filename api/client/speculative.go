package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// SpeculativePlan is a plan that is never applied (POST
// .../projects/{id}/plan): what a spec would change, its cost, and the
// admission and policy verdicts, as the reconciler judged them.
type SpeculativePlan struct {
	// ID names the plan (GetSpeculativePlan).
	ID int64 `json:"id"`
	// RunID is its number in the project's run history; 0 when the
	// project did not exist.
	RunID     int64  `json:"runId"`
	UserID    string `json:"userId"`
	ProjectID string `json:"projectId"`
	Kind      string `json:"kind"`
	// Outcome is queued, running, succeeded (the verdicts say whether the
	// spec would pass) or failed (no plan could be made: Error).
	Outcome                 string          `json:"outcome"`
	Generation              int64           `json:"generation"`
	StartedAt               time.Time       `json:"startedAt"`
	FinishedAt              *time.Time      `json:"finishedAt"`
	DurationSeconds         *float64        `json:"durationSeconds"`
	ProjectExists           *bool           `json:"projectExists"`
	Add                     int             `json:"add"`
	Change                  int             `json:"change"`
	Destroy                 int             `json:"destroy"`
	Changes                 []Change        `json:"changes"`
	ChangesOmitted          int             `json:"changesOmitted"`
	EstimatedMonthlyCostUSD *float64        `json:"estimatedMonthlyCostUSD"`
	CostEstimate            json.RawMessage `json:"costEstimate"`
	Admission               *Verdict        `json:"admission"`
	Policy                  *Verdict        `json:"policy"`
	Error                   string          `json:"error"`
	LogTail                 string          `json:"logTail"`
}

// Change is the plan's action on one address: create, update, replace,
// delete or read.
type Change struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Action  string `json:"action"`
}

// Verdict is one check's answer: admitted or blocked (admission), passed
// or refused (policy), or notEvaluated.
type Verdict struct {
	Verdict    string          `json:"verdict"`
	Reason     string          `json:"reason"`
	Message    string          `json:"message"`
	Violations json.RawMessage `json:"violations"`
}

// Done says the plan finished (succeeded or failed).
func (p SpeculativePlan) Done() bool { return p.Outcome == "succeeded" || p.Outcome == "failed" }

// Passes says the plan was made and both verdicts let the spec through.
func (p SpeculativePlan) Passes() bool {
	return p.Outcome == "succeeded" && p.Admission != nil && p.Admission.Verdict == "admitted" &&
		p.Policy != nil && p.Policy.Verdict == "passed"
}

// PlanSpeculative queues a speculative plan of spec for user's project
// (which need not exist; it is not created). spec is a Spec, or any value
// that marshals to the PUT body (a json.RawMessage is sent as it is).
func (c *Client) PlanSpeculative(ctx context.Context, user, project string, spec any) (SpeculativePlan, error) {
	var sp SpeculativePlan
	b, _, err := c.Do(ctx, http.MethodPost, ProjectPath(user, project, "plan"), spec, nil)
	if err != nil {
		return sp, err
	}
	return sp, json.Unmarshal(b, &sp)
}

// GetSpeculativePlan reads one speculative plan.
func (c *Client) GetSpeculativePlan(ctx context.Context, user, project string, id int64) (SpeculativePlan, error) {
	var sp SpeculativePlan
	_, err := c.GetJSON(ctx, ProjectPath(user, project, "plans", strconv.FormatInt(id, 10)), &sp)
	return sp, err
}

// WaitSpeculativePlan polls a speculative plan every interval until it
// finishes or ctx ends (then it returns the last plan read and ctx's
// error). progress, when not nil, is called on every change of outcome.
func (c *Client) WaitSpeculativePlan(ctx context.Context, user, project string, id int64, interval time.Duration,
	progress func(SpeculativePlan)) (SpeculativePlan, error) {
	if interval <= 0 {
		return SpeculativePlan{}, errors.New("WaitSpeculativePlan: the interval must be positive")
	}
	var last SpeculativePlan
	for {
		sp, err := c.GetSpeculativePlan(ctx, user, project, id)
		if err != nil {
			if ctx.Err() != nil {
				return last, fmt.Errorf("speculative plan %d is still %s: %w", id, last.Outcome, ctx.Err())
			}
			return last, err
		}
		if progress != nil && sp.Outcome != last.Outcome {
			progress(sp)
		}
		last = sp
		if sp.Done() {
			return sp, nil
		}
		if err := sleep(ctx, interval); err != nil {
			return last, fmt.Errorf("speculative plan %d is still %s: %w", id, last.Outcome, err)
		}
	}
}
