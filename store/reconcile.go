package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Queries of the reconciler. A reconciler owns a project while it holds the
// project's lease; every write below is conditioned on still holding it, so
// a reconciler that lost its lease (it stalled, another took over) can never
// overwrite the newer owner's work.

// ClaimDue leases the most overdue project that no live lease holds: due
// (spec changed, deletion requested, timer or backoff passed, resync) and
// unleased or with an expired lease. FOR UPDATE SKIP LOCKED lets any number
// of reconcilers claim concurrently without blocking on each other.
func (s *Store) ClaimDue(ctx context.Context, owner string, leaseUntil, now time.Time) (Project, bool, error) {
	now = micro(now)
	p, err := scanProject(s.pool.QueryRow(ctx, `UPDATE projects SET lease_owner = $1, lease_expires_at = $2
		WHERE (user_id, project_id) = (
			SELECT user_id, project_id FROM projects
			WHERE due_at <= $3 AND (lease_expires_at IS NULL OR lease_expires_at < $3)
			ORDER BY due_at
			LIMIT 1
			FOR UPDATE SKIP LOCKED)
		RETURNING `+projectColumns, owner, micro(leaseUntil), now))
	if errors.Is(err, ErrNotFound) {
		return Project{}, false, nil
	}
	if err != nil {
		return Project{}, false, err
	}
	return p, true, nil
}

// NextDueAt returns the earliest time a project becomes due (or its lease
// expires, for a claimed one), so the reconciler can sleep until then.
func (s *Store) NextDueAt(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(greatest(due_at, coalesce(lease_expires_at, due_at))) FROM projects`).Scan(&t)
	if err != nil || t == nil {
		return time.Time{}, false, translate(err)
	}
	return t.UTC(), true, nil
}

// RenewLease extends a held lease; ErrLeaseLost if another owner has it.
func (s *Store) RenewLease(ctx context.Context, key Key, owner string, until time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE projects SET lease_expires_at = $4
		WHERE user_id = $1 AND project_id = $2 AND lease_owner = $3`,
		key.UserID, key.ProjectID, owner, micro(until))
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// SetStatus records progress (a phase change mid-reconcile) while keeping
// the lease.
func (s *Store) SetStatus(ctx context.Context, key Key, owner string, st Status) error {
	return s.writeStatus(ctx, key, owner, st, "")
}

// FinishReconcile writes the final status of a pass, schedules the next one
// and releases the lease. When a client wrote to the project after the pass
// read it (revision moved on), the project is due at once instead, so no
// change is ever lost to a pass that started too early to see it.
func (s *Store) FinishReconcile(ctx context.Context, key Key, owner string, st Status, seenRevision int64, nextDue, now time.Time) error {
	return s.writeStatus(ctx, key, owner, st,
		`, due_at = CASE WHEN revision <> $16::bigint THEN $17::timestamptz ELSE $18::timestamptz END, lease_owner = NULL, lease_expires_at = NULL`,
		seenRevision, micro(now), micro(nextDue))
}

// ReleaseLease hands a project back without changing it (shutdown), due now
// so another reconciler picks it up.
func (s *Store) ReleaseLease(ctx context.Context, key Key, owner string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE projects SET lease_owner = NULL, lease_expires_at = NULL, due_at = least(due_at, $4)
		WHERE user_id = $1 AND project_id = $2 AND lease_owner = $3`, key.UserID, key.ProjectID, owner, micro(now))
	return translate(err)
}

// writeStatus updates the status columns ($4..$15) and, when extraSet is
// not empty (", col = ..."), more columns whose parameters start at $16.
func (s *Store) writeStatus(ctx context.Context, key Key, owner string, st Status, extraSet string, extraArgs ...any) error {
	conditions, err := json.Marshal(nonNil(st.Conditions))
	if err != nil {
		return err
	}
	outputs := st.Outputs
	if outputs == nil {
		outputs = map[string]any{}
	}
	outputsJSON, err := json.Marshal(outputs)
	if err != nil {
		return err
	}
	args := []any{key.UserID, key.ProjectID, owner,
		string(st.Phase), st.ObservedGeneration, conditions, st.ResourceCount, st.EstimatedMonthlyCostUSD,
		outputsJSON, st.Message, st.LastError, st.LastAppliedAt, st.Attempts, st.NextAttemptAt, st.LastVerifiedAt}
	tag, err := s.pool.Exec(ctx, `UPDATE projects SET
			phase = $4, observed_generation = $5, conditions = $6, resource_count = $7,
			estimated_monthly_cost = $8, outputs = $9, status_message = $10, last_error = $11,
			last_applied_at = $12, attempts = $13, next_attempt_at = $14, last_verified_at = $15`+extraSet+`
		WHERE user_id = $1 AND project_id = $2 AND lease_owner = $3`,
		append(args, extraArgs...)...)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

func nonNil(c []Condition) []Condition {
	if c == nil {
		return []Condition{}
	}
	return c
}

// DeleteFinalized removes a project whose resources are all destroyed: the
// finalizer's last step. Only the lease holder may do it, and only for the
// same incarnation (uid) it destroyed. The user's blocked projects are woken
// in the same transaction: the quota they were refused against has room now.
func (s *Store) DeleteFinalized(ctx context.Context, key Key, owner, uid string, now time.Time) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `DELETE FROM projects
		WHERE user_id = $1 AND project_id = $2 AND lease_owner = $3 AND uid = $4::uuid`,
		key.UserID, key.ProjectID, owner, uid)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	if err := wakeBlocked(ctx, tx, key.UserID, now); err != nil {
		return err
	}
	return translate(tx.Commit(ctx))
}

// WakeBlocked makes every blocked project due now, for a reconciler that
// starts with limits that may have changed since they were refused.
func (s *Store) WakeBlocked(ctx context.Context, now time.Time) error {
	return wakeBlocked(ctx, s.pool, "", now)
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// wakeBlocked makes blocked projects (of one user, or all for "") due now.
// It bumps the revision so that the NOTIFY trigger wakes every reconciler.
func wakeBlocked(ctx context.Context, db execer, userID string, now time.Time) error {
	_, err := db.Exec(ctx, `UPDATE projects SET revision = revision + 1, due_at = $2
		WHERE phase = $3 AND ($1 = '' OR user_id = $1)`, userID, micro(now), string(PhaseBlocked))
	return translate(err)
}

// Usage is what a user's projects consume.
type Usage struct {
	Projects       int     `json:"projects"`
	Resources      int     `json:"resources"`
	MonthlyCostUSD float64 `json:"monthlyCostUSD"`
}

// UserUsage sums the applied resources and estimated cost of a user's
// projects, leaving out one project (the one being admitted; "" for none).
func (s *Store) UserUsage(ctx context.Context, userID, exceptProjectID string) (Usage, error) {
	var u Usage
	err := s.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(resource_count), 0), coalesce(sum(estimated_monthly_cost), 0)::float8
		FROM projects WHERE user_id = $1 AND project_id <> $2`, userID, exceptProjectID).
		Scan(&u.Projects, &u.Resources, &u.MonthlyCostUSD)
	return u, translate(err)
}

// TotalMonthlyCost sums the estimated cost of every project but one, for the
// platform-wide AWS_COST_BUDGET_LIMIT.
func (s *Store) TotalMonthlyCost(ctx context.Context, except Key) (float64, error) {
	var total float64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(estimated_monthly_cost), 0)::float8 FROM projects
		WHERE NOT (user_id = $1 AND project_id = $2)`, except.UserID, except.ProjectID).Scan(&total)
	return total, translate(err)
}
