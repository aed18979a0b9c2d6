package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantform/tenantform/store"
)

// runSummary is a run as listed: what ran, for which generation, and how it
// ended. The plan, the cost lines and the log tail can be large, so they
// are only in runView, one run at a time.
type runSummary struct {
	ID         int64  `json:"id"`
	Generation int64  `json:"generation"`
	Operation  string `json:"operation"`
	// Kind is reconcile, or speculative for a plan that is never applied
	// (POST .../plan; its findings are on the run and on .../plans/{id}).
	Kind                    string     `json:"kind"`
	Reason                  string     `json:"reason"`
	Outcome                 string     `json:"outcome"`
	ReconcileID             string     `json:"reconcileId"`
	Owner                   string     `json:"owner"`
	StartedAt               time.Time  `json:"startedAt"`
	FinishedAt              *time.Time `json:"finishedAt"`
	DurationSeconds         *float64   `json:"durationSeconds"`
	EstimatedMonthlyCostUSD *float64   `json:"estimatedMonthlyCostUSD"`
	Error                   string     `json:"error"`
	// Omitted lists what the API's response limits cut (see bounds.go);
	// absent when nothing was.
	Omitted []omission `json:"omitted,omitempty"`
}

// runView is one run in full: the plan summary (resources after apply), the
// cost estimate with a line per resource, and the redacted log tail.
type runView struct {
	runSummary
	PlanSummary  json.RawMessage `json:"planSummary"`
	CostEstimate json.RawMessage `json:"costEstimate"`
	// Diagnostics are terraform's structured diagnostics (severity,
	// summary, detail, file, line) of a failed run.
	Diagnostics json.RawMessage `json:"diagnostics"`
	LogTail     string          `json:"logTail"`
	// Speculative is what a speculative plan found (changes, admission
	// and policy verdicts); absent for other runs.
	Speculative json.RawMessage `json:"speculative,omitempty"`
}

// summarize keeps at most errorLimit bytes of the run's error: the full
// limit for one run, less in a list, whose 500 runs must stay small too.
func summarize(r store.Run, l *limiter, errorLimit int) runSummary {
	s := runSummary{
		ID:                      r.ID,
		Generation:              r.Generation,
		Operation:               r.Operation,
		Kind:                    r.Kind,
		Reason:                  r.Reason,
		Outcome:                 r.Outcome,
		ReconcileID:             r.ReconcileID,
		Owner:                   r.Owner,
		StartedAt:               r.StartedAt.UTC(),
		FinishedAt:              utc(r.FinishedAt),
		EstimatedMonthlyCostUSD: r.EstimatedMonthlyCostUSD,
		Error:                   l.head("error", r.Error, errorLimit),
	}
	if r.FinishedAt != nil {
		d := r.FinishedAt.Sub(r.StartedAt).Seconds()
		s.DurationSeconds = &d
	}
	return s
}

// rawOrNull keeps absent JSON documents as an explicit null, so every run
// has the same fields.
func rawOrNull(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("null")
	}
	return m
}

type runList struct {
	Items []runSummary `json:"items"`
	// Next is the cursor of the next (older) page: pass it as ?after=;
	// always present, "" on the last page, as in the projects list.
	Next string `json:"next"`
}

// listRuns lists the project's runs, newest first. The project is looked up
// first: the store would list a missing project's runs as none, and a
// missing project must be a 404 like on every other project route.
func (s *server) listRuns(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := queryParams(r.URL.Query(), "limit", "after")
	if err != nil {
		return err
	}
	limit, err := limitParam(q["limit"])
	if err != nil {
		return err
	}
	var before int64
	if raw := q["after"]; raw != "" {
		if before, err = strconv.ParseInt(raw, 10, 64); err != nil || before < 1 {
			return badRequest("query parameter after %q must be a run id (a positive integer) from the previous page's next", raw)
		}
	}
	// A deleted project's runs stay readable while its tombstone lives.
	if _, err := s.st.GetProject(r.Context(), c.key); err != nil && !errors.Is(err, store.ErrGone) {
		return fromStore(err, msgProjectNotFound)
	}
	runs, err := s.st.ListRuns(r.Context(), c.key, limit+1, before)
	if err != nil {
		return err
	}
	out := runList{}
	if len(runs) > limit {
		runs = runs[:limit]
		out.Next = strconv.FormatInt(runs[len(runs)-1].ID, 10)
	}
	out.Items = make([]runSummary, len(runs))
	for i, run := range runs {
		var l limiter
		out.Items[i] = summarize(run, &l, maxListedErrorBytes)
		out.Items[i].Omitted = l.omitted
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

// getRun returns one run of the project. A run of another project (or of an
// earlier project of the same name) is not found here.
func (s *server) getRun(w http.ResponseWriter, r *http.Request, c *call) error {
	raw := mux.Vars(r)["runId"]
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return badRequest("path parameter runId %q must be a positive integer", raw)
	}
	run, err := s.st.GetRun(r.Context(), c.key, id)
	if err != nil {
		return fromStore(err, msgRunNotFound)
	}
	var l limiter
	v := runView{
		runSummary:   summarize(run, &l, maxMessageBytes),
		PlanSummary:  l.document("planSummary", run.PlanSummary),
		CostEstimate: l.document("costEstimate", run.CostEstimate),
		Diagnostics:  l.document("diagnostics", run.Diagnostics),
		LogTail:      l.tail("logTail", run.LogTail, maxLogTailBytes),
	}
	if len(run.Speculative) > 0 {
		v.Speculative = l.document("speculative", run.Speculative)
	}
	v.Omitted = l.omitted
	s.writeJSON(w, r, http.StatusOK, v)
	return nil
}
