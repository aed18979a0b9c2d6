package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

const runColumns = `id, number, project_uid::text, user_id, project_id, generation, operation, reason, reconcile_id, owner,
	started_at, finished_at, outcome, plan_summary, cost_estimate, estimated_monthly_cost::float8, log_tail, error,
	diagnostics, planfile IS NOT NULL, kind, speculative`

type scanner interface{ Scan(dest ...any) error }

func scanRun(row scanner) (Run, error) {
	var r Run
	var plan, cost, diags, spec []byte
	err := row.Scan(&r.RowID, &r.ID, &r.ProjectUID, &r.UserID, &r.ProjectID, &r.Generation, &r.Operation, &r.Reason, &r.ReconcileID, &r.Owner,
		&r.StartedAt, &r.FinishedAt, &r.Outcome, &plan, &cost, &r.EstimatedMonthlyCostUSD, &r.LogTail, &r.Error,
		&diags, &r.HasPlanfile, &r.Kind, &spec)
	if err != nil {
		return Run{}, translate(err)
	}
	r.PlanSummary, r.CostEstimate, r.Diagnostics = json.RawMessage(plan), json.RawMessage(cost), json.RawMessage(diags)
	r.Speculative = json.RawMessage(spec)
	r.StartedAt = r.StartedAt.UTC()
	return r, nil
}

// RunRef names a run both ways: its database row and its number within the
// project.
type RunRef struct {
	RowID  int64
	Number int64
}

// StartRun records that an operation begins, numbered after the project's
// newest run. It is fenced on the claim token: only the lease holder
// records runs. For an apply this row is the "apply started" marker: until
// FinishRun, anyone reading the project must assume the apply may have been
// partial.
func (s *Store) StartRun(ctx context.Context, p Project, token, op, reason, reconcileID, owner string, now time.Time) (RunRef, error) {
	var ref RunRef
	for attempt := 0; ; attempt++ {
		err := translate(s.pool.QueryRow(ctx, `INSERT INTO runs (project_uid, number, user_id, project_id, generation, operation, reason,
				reconcile_id, owner, started_at)
			SELECT uid, coalesce((SELECT max(number) FROM runs WHERE project_uid = $1::uuid), 0) + 1,
				user_id, project_id, $2, $3, $4, $5, $6, $7
			FROM projects WHERE uid = $1::uuid AND lease_token = $8::uuid
			RETURNING id, number`,
			p.UID, p.Generation, op, reason, reconcileID, owner, micro(now), token).Scan(&ref.RowID, &ref.Number))
		// A speculative plan queued by the API at the same moment took
		// the number (runs_project_number): take the next one.
		if errors.Is(err, ErrConflict) && attempt < maxNumberRetries {
			continue
		}
		if errors.Is(err, ErrNotFound) {
			return ref, ErrLeaseLost
		}
		return ref, err
	}
}

// maxNumberRetries bounds the retries of a run insert that lost its
// number to a concurrent insert.
const maxNumberRetries = 5

// RunResult is what an operation ended with.
type RunResult struct {
	Outcome                 string
	PlanSummary             any // marshalled to JSON; nil for none
	CostEstimate            any
	EstimatedMonthlyCostUSD *float64
	LogTail                 string
	Error                   string
	Diagnostics             any
	// Planfile is the saved plan to keep with the run until it is applied
	// (a plan awaiting approval); nil keeps none.
	Planfile []byte
}

// FinishRun records the end of an operation.
func (s *Store) FinishRun(ctx context.Context, rowID int64, res RunResult, now time.Time) error {
	plan, err := marshalOrNil(res.PlanSummary)
	if err != nil {
		return err
	}
	cost, err := marshalOrNil(res.CostEstimate)
	if err != nil {
		return err
	}
	diags, err := marshalOrNil(res.Diagnostics)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `UPDATE runs SET finished_at = $2, outcome = $3, plan_summary = $4, cost_estimate = $5,
			estimated_monthly_cost = $6, log_tail = $7, error = $8, diagnostics = $9, planfile = $10
		WHERE id = $1 AND finished_at IS NULL`, rowID, micro(now), res.Outcome, plan, cost, res.EstimatedMonthlyCostUSD,
		res.LogTail, res.Error, diags, res.Planfile)
	return translate(err)
}

func marshalOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if r, ok := v.(json.RawMessage); ok && len(r) == 0 {
		return nil, nil
	}
	return json.Marshal(v)
}

// Planfile returns the saved plan kept with a run of the project
// incarnation uid, with the generation it was made for; ErrNotFound when
// none is kept.
func (s *Store) Planfile(ctx context.Context, uid string, number int64) ([]byte, int64, error) {
	var b []byte
	var gen int64
	err := s.pool.QueryRow(ctx, `SELECT planfile, generation FROM runs
		WHERE project_uid = $1::uuid AND number = $2 AND planfile IS NOT NULL`, uid, number).Scan(&b, &gen)
	return b, gen, translate(err)
}

// UnfinishedRuns returns the runs of a project incarnation that were started
// but never finished: the trace a crashed reconciler leaves.
func (s *Store) UnfinishedRuns(ctx context.Context, uid string) ([]Run, error) {
	// A speculative plan (kind speculative) runs apart from the project's
	// reconcile and never touches its state: it is not a crash's trace.
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE project_uid = $1::uuid AND finished_at IS NULL
		AND kind = 'reconcile' ORDER BY id`, uid)
}

// AbandonRun closes a run a crashed reconciler left open.
func (s *Store) AbandonRun(ctx context.Context, rowID int64, reason string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE runs SET finished_at = $2, outcome = 'failed', error = $3, planfile = NULL
		WHERE id = $1 AND finished_at IS NULL`, rowID, micro(now), reason)
	return translate(err)
}

// projectUID finds the incarnation whose runs a key names: the live
// project, else the newest tombstone.
const projectUID = `coalesce(
	(SELECT uid FROM projects WHERE user_id = $1 AND project_id = $2),
	(SELECT uid FROM project_tombstones WHERE user_id = $1 AND project_id = $2 ORDER BY deleted_at DESC LIMIT 1))`

// ListRuns returns the runs of the project's current incarnation (or of the
// deleted one its tombstone remembers), newest first, with numbers below
// before when it is positive: pass the last number of a page to get the
// next.
func (s *Store) ListRuns(ctx context.Context, key Key, limit int, before int64) ([]Run, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs
		WHERE project_uid = `+projectUID+` AND ($4::bigint <= 0 OR number < $4)
		ORDER BY number DESC LIMIT $3`, key.UserID, key.ProjectID, limit, before)
}

// GetRun returns one run, by its number, of the project's current
// incarnation (or of the deleted one its tombstone remembers).
func (s *Store) GetRun(ctx context.Context, key Key, number int64) (Run, error) {
	return scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs
		WHERE number = $3 AND project_uid = `+projectUID,
		key.UserID, key.ProjectID, number))
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

// Prune removes tombstones and the runs of deleted projects older than
// retention, and keeps at most keepPerProject runs of each live project
// (never the run whose plan awaits approval, nor an unfinished one). It
// returns how many runs it removed.
func (s *Store) Prune(ctx context.Context, retention time.Duration, keepPerProject int, now time.Time) (int64, error) {
	cutoff := micro(now.Add(-retention))
	if _, err := s.pool.Exec(ctx, `DELETE FROM project_tombstones WHERE deleted_at < $1`, cutoff); err != nil {
		return 0, translate(err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM runs r
		WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.uid = r.project_uid)
		  AND NOT EXISTS (SELECT 1 FROM project_tombstones t WHERE t.uid = r.project_uid)
		  AND r.started_at < $1`, cutoff)
	if err != nil {
		return 0, translate(err)
	}
	n := tag.RowsAffected()
	tag, err = s.pool.Exec(ctx, `DELETE FROM runs r USING (
			SELECT id FROM (
				SELECT r2.id, r2.finished_at, r2.number, p.pending_plan_run,
					row_number() OVER (PARTITION BY r2.project_uid ORDER BY r2.number DESC) AS rank
				FROM runs r2 JOIN projects p ON p.uid = r2.project_uid) ranked
			WHERE rank > $1 AND finished_at IS NOT NULL AND number <> pending_plan_run) old
		WHERE r.id = old.id`, keepPerProject)
	if err != nil {
		return n, translate(err)
	}
	return n + tag.RowsAffected(), nil
}
