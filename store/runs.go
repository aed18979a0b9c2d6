package store

import (
	"context"
	"encoding/json"
	"time"
)

const runColumns = `id, project_uid::text, user_id, project_id, generation, operation, reconcile_id, owner,
	started_at, finished_at, outcome, plan_summary, cost_estimate, estimated_monthly_cost::float8, log_tail, error`

type scanner interface{ Scan(dest ...any) error }

func scanRun(row scanner) (Run, error) {
	var r Run
	var plan, cost []byte
	err := row.Scan(&r.ID, &r.ProjectUID, &r.UserID, &r.ProjectID, &r.Generation, &r.Operation, &r.ReconcileID, &r.Owner,
		&r.StartedAt, &r.FinishedAt, &r.Outcome, &plan, &cost, &r.EstimatedMonthlyCostUSD, &r.LogTail, &r.Error)
	if err != nil {
		return Run{}, translate(err)
	}
	r.PlanSummary, r.CostEstimate = json.RawMessage(plan), json.RawMessage(cost)
	r.StartedAt = r.StartedAt.UTC()
	return r, nil
}

// StartRun records that an operation begins and returns its id. For an
// apply this row is the "apply started" marker: until FinishRun, anyone
// reading the project must assume the apply may have been partial.
func (s *Store) StartRun(ctx context.Context, p Project, op, reconcileID, owner string, now time.Time) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO runs (project_uid, user_id, project_id, generation, operation, reconcile_id, owner, started_at)
		VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		p.UID, p.UserID, p.ProjectID, p.Generation, op, reconcileID, owner, micro(now)).Scan(&id)
	return id, translate(err)
}

// RunResult is what an operation ended with.
type RunResult struct {
	Outcome                 string
	PlanSummary             any // marshalled to JSON; nil for none
	CostEstimate            any
	EstimatedMonthlyCostUSD *float64
	LogTail                 string
	Error                   string
}

// FinishRun records the end of an operation.
func (s *Store) FinishRun(ctx context.Context, id int64, res RunResult, now time.Time) error {
	plan, err := marshalOrNil(res.PlanSummary)
	if err != nil {
		return err
	}
	cost, err := marshalOrNil(res.CostEstimate)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `UPDATE runs SET finished_at = $2, outcome = $3, plan_summary = $4, cost_estimate = $5,
			estimated_monthly_cost = $6, log_tail = $7, error = $8
		WHERE id = $1`, id, micro(now), res.Outcome, plan, cost, res.EstimatedMonthlyCostUSD, res.LogTail, res.Error)
	return translate(err)
}

func marshalOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// UnfinishedRuns returns the runs of a project incarnation that were started
// but never finished: the trace a crashed reconciler leaves.
func (s *Store) UnfinishedRuns(ctx context.Context, uid string) ([]Run, error) {
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE project_uid = $1::uuid AND finished_at IS NULL ORDER BY id`, uid)
}

// AbandonRun closes a run a crashed reconciler left open.
func (s *Store) AbandonRun(ctx context.Context, id int64, reason string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE runs SET finished_at = $2, outcome = 'failed', error = $3
		WHERE id = $1 AND finished_at IS NULL`, id, micro(now), reason)
	return translate(err)
}

// ListRuns returns the runs of the project's current incarnation, newest
// first.
func (s *Store) ListRuns(ctx context.Context, key Key, limit int) ([]Run, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs
		WHERE project_uid = (SELECT uid FROM projects WHERE user_id = $1 AND project_id = $2)
		ORDER BY id DESC LIMIT $3`, key.UserID, key.ProjectID, limit)
}

// GetRun returns one run of the project's current incarnation.
func (s *Store) GetRun(ctx context.Context, key Key, id int64) (Run, error) {
	return scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs
		WHERE id = $3 AND project_uid = (SELECT uid FROM projects WHERE user_id = $1 AND project_id = $2)`,
		key.UserID, key.ProjectID, id))
}

func (s *Store) queryRuns(ctx context.Context, sql string, args ...any) ([]Run, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, translate(rows.Err())
}
