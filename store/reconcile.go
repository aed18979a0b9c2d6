package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Queries of the reconciler. A reconciler owns a project while it holds the
// project's lease. Lease times come from the database's clock (now()), never
// from a caller's, so replicas whose clocks disagree cannot steal each
// other's leases; and every write below is fenced on the token of the claim
// that made it, so a reconciler that lost its lease (it stalled, another
// took over) can never overwrite the newer owner's work.

// Claim asks ClaimDue for one project.
type Claim struct {
	// Owner names the replica (logs, runs, and reclaiming its own leases).
	Owner string
	// LeaseFor is how long the lease lasts unless renewed, counted on the
	// database's clock.
	LeaseFor time.Duration
	// Now is the reconciler's clock, against which due_at (a timer the
	// reconciler itself computed) is compared.
	Now time.Time
	// InFlight are the projects this replica is working on: never claimed
	// again. A lease of Owner on any other project is stale (its final
	// write was lost, for example to a database outage) and is taken back
	// at once instead of waiting for it to expire.
	InFlight []Key
	// MaxPerUser, when positive, skips users that already hold that many
	// live leases, so one tenant's many projects cannot take every worker.
	MaxPerUser int
}

// QueueDepth counts the projects that are due and not leased.
func (s *Store) QueueDepth(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM projects
		WHERE due_at <= $1 AND (lease_expires_at IS NULL OR lease_expires_at < now())`, micro(now)).Scan(&n)
	return n, translate(err)
}

// NextDueAt returns how long until a project becomes due, or a lease
// expires, so the reconciler can sleep until then. due_at is compared with
// the caller's clock (it computed it); lease expiry with the database's.
func (s *Store) NextDueAt(ctx context.Context, now time.Time) (time.Duration, bool, error) {
	var due, lease *float64
	// Index probes (projects_due_unleased; projects_lease_expires for the
	// few leased rows), not a scan: this runs after every pass, whatever
	// the table's size.
	err := s.pool.QueryRow(ctx, `SELECT
			extract(epoch FROM LEAST(
				(SELECT min(due_at) FROM projects WHERE lease_expires_at IS NULL),
				(SELECT min(due_at) FROM projects WHERE lease_expires_at < now())) - $1::timestamptz),
			(SELECT extract(epoch FROM min(lease_expires_at) - now()) FROM projects WHERE lease_expires_at >= now())`,
		micro(now)).Scan(&due, &lease)
	if err != nil {
		return 0, false, translate(err)
	}
	var out *float64
	for _, v := range []*float64{due, lease} {
		if v != nil && (out == nil || *v < *out) {
			out = v
		}
	}
	if out == nil {
		return 0, false, nil
	}
	return time.Duration(*out * float64(time.Second)), true, nil
}

// RenewLease extends a held lease by leaseFor on the database's clock and
// returns the row's revision and generation and whether deletion is
// requested, so the holder can notice client writes. The project's state
// lock, if the claim holds it, is renewed in the same statement: the two
// expire together. ErrLeaseLost if the claim is no longer the row's.
func (s *Store) RenewLease(ctx context.Context, key Key, token string, leaseFor time.Duration) (LeaseView, error) {
	var v LeaseView
	err := s.pool.QueryRow(ctx, `WITH lock AS (
			UPDATE project_locks SET expires_at = now() + make_interval(secs => $4::float8)
			WHERE user_id = $1 AND project_id = $2 AND holder = $3::uuid
			  AND EXISTS (SELECT 1 FROM projects WHERE user_id = $1 AND project_id = $2 AND lease_token = $3::uuid))
		UPDATE projects SET lease_expires_at = now() + make_interval(secs => $4::float8)
		WHERE user_id = $1 AND project_id = $2 AND lease_token = $3::uuid
		RETURNING revision, generation, deletion_requested_at IS NOT NULL`,
		key.UserID, key.ProjectID, token, leaseFor.Seconds()).Scan(&v.Revision, &v.Generation, &v.DeletionRequested)
	if errors.Is(translate(err), ErrNotFound) {
		return v, ErrLeaseLost
	}
	return v, translate(err)
}

// LeaseView is what a lease holder learns of client writes on renewal.
type LeaseView struct {
	Revision          int64
	Generation        int64
	DeletionRequested bool
}

// SetStatus records progress (a phase change mid-reconcile) while keeping
// the lease.
func (s *Store) SetStatus(ctx context.Context, key Key, token string, st Status) error {
	return s.writeStatus(ctx, key, token, st, "")
}

// FinishReconcile writes the final status of a pass, schedules the next one
// and releases the lease. When a client wrote to the project after the pass
// read it (revision moved on), the project is due at once instead, so no
// change is ever lost to a pass that started too early to see it. Saved
// plans other than the one awaiting approval are dropped.
func (s *Store) FinishReconcile(ctx context.Context, key Key, token string, st Status, seenRevision int64, nextDue, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.writeStatusTx(ctx, tx, key, token, st,
			`, due_at = CASE WHEN revision <> $21::bigint THEN $22::timestamptz ELSE $23::timestamptz END,
			   lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL`,
			seenRevision, micro(now), micro(nextDue)); err != nil {
			return err
		}
		// A state lock the pass failed to release goes with its lease.
		if _, err := tx.Exec(ctx, `DELETE FROM project_locks WHERE user_id = $1 AND project_id = $2 AND holder = $3::uuid`,
			key.UserID, key.ProjectID, token); err != nil {
			return translate(err)
		}
		_, err := tx.Exec(ctx, `UPDATE runs SET planfile = NULL
			WHERE project_uid = (SELECT uid FROM projects WHERE user_id = $1 AND project_id = $2)
			  AND planfile IS NOT NULL AND number <> $3`, key.UserID, key.ProjectID, st.PendingPlanRun)
		return translate(err)
	})
}

// ReleaseLease hands a project back without changing it (shutdown), due now
// so another reconciler picks it up. A state lock the claim still holds
// goes with it.
func (s *Store) ReleaseLease(ctx context.Context, key Key, token string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `WITH unlock AS (
			DELETE FROM project_locks WHERE user_id = $1 AND project_id = $2 AND holder = $3::uuid)
		UPDATE projects SET lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL,
			due_at = least(due_at, $4)
		WHERE user_id = $1 AND project_id = $2 AND lease_token = $3::uuid`, key.UserID, key.ProjectID, token, micro(now))
	return translate(err)
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (s *Store) writeStatus(ctx context.Context, key Key, token string, st Status, extraSet string, extraArgs ...any) error {
	return s.writeStatusTx(ctx, s.pool, key, token, st, extraSet, extraArgs...)
}

// writeStatusTx updates the status columns ($4..$20) and, when extraSet is
// not empty (", col = ..."), more columns whose parameters start at $21.
func (s *Store) writeStatusTx(ctx context.Context, db queryRower, key Key, token string, st Status, extraSet string, extraArgs ...any) error {
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
	args := []any{key.UserID, key.ProjectID, token,
		string(st.Phase), st.ObservedGeneration, conditions, st.ResourceCount, st.EstimatedMonthlyCostUSD,
		outputsJSON, st.Message, st.LastError, st.LastAppliedAt, st.Attempts, st.NextAttemptAt, st.LastVerifiedAt,
		st.ReservedResources, st.ReservedMonthlyCostUSD, st.PlannedResources, st.PlannedMonthlyCostUSD, st.PendingPlanRun}
	tag, err := db.Exec(ctx, `UPDATE projects SET
			phase = $4, observed_generation = $5, conditions = $6, resource_count = $7,
			estimated_monthly_cost = $8, outputs = $9, status_message = $10, last_error = $11,
			last_applied_at = $12, attempts = $13, next_attempt_at = $14, last_verified_at = $15,
			reserved_resources = $16, reserved_monthly_cost = $17, planned_resources = $18,
			planned_monthly_cost = $19, pending_plan_run = $20`+extraSet+`
		WHERE user_id = $1 AND project_id = $2 AND lease_token = $3::uuid`,
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

// MarkExpired starts the destruction of a project whose TTL ran out. It is
// fenced on the revision the pass read: a client write since (an extend)
// wins, and the call returns ErrConflict so the pass looks again; an extend
// arriving after it finds the project being destroyed and gets a conflict.
// Never both.
func (s *Store) MarkExpired(ctx context.Context, key Key, token string, seenRevision int64, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE projects SET deletion_requested_at = $5, updated_at = $5
		WHERE user_id = $1 AND project_id = $2 AND lease_token = $3::uuid AND revision = $4
		  AND deletion_requested_at IS NULL AND expires_at <= $5`,
		key.UserID, key.ProjectID, token, seenRevision, micro(now))
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: project %s changed since it was read; not expiring it", ErrConflict, key)
	}
	return nil
}

// DeleteFinalized removes a project whose resources are all destroyed: the
// finalizer's last step. Only the claim holder may do it, only for the
// incarnation (uid) it destroyed, and only while deletion is requested. A
// tombstone keeps the final status for the API (410 Gone). The user's
// blocked projects are woken in the same transaction: the quota they were
// refused against has room now.
func (s *Store) DeleteFinalized(ctx context.Context, key Key, token, uid, reason string, final Status, now time.Time) error {
	statusJSON, err := json.Marshal(final)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `WITH gone AS (
				DELETE FROM projects
				WHERE user_id = $1 AND project_id = $2 AND lease_token = $3::uuid AND uid = $4::uuid
				  AND deletion_requested_at IS NOT NULL
				RETURNING user_id, project_id, uid, generation)
			INSERT INTO project_tombstones (user_id, project_id, uid, generation, status, reason, deleted_at)
			SELECT user_id, project_id, uid, generation, $5, $6, $7 FROM gone`,
			key.UserID, key.ProjectID, token, uid, statusJSON, reason, micro(now))
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return ErrLeaseLost
		}
		if _, err := tx.Exec(ctx, `UPDATE runs SET planfile = NULL WHERE project_uid = $1::uuid AND planfile IS NOT NULL`, uid); err != nil {
			return translate(err)
		}
		return wakeBlocked(ctx, tx, key.UserID, now)
	})
}

// WakeBlocked makes every blocked project due now, for a reconciler that
// starts with limits that may have changed since they were refused. Waking
// costs no terraform run: a blocked project re-plans only when its last
// plan now fits.
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

// UserUsage sums the resources and estimated cost of a user's projects,
// counting each project's reservation where it exceeds what is applied,
// leaving out one project ("" for none).
func (s *Store) UserUsage(ctx context.Context, userID, exceptProjectID string) (Usage, error) {
	return userUsage(ctx, s.pool, userID, exceptProjectID)
}

func userUsage(ctx context.Context, db queryRower, userID, exceptProjectID string) (Usage, error) {
	var u Usage
	err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(greatest(resource_count, reserved_resources)), 0),
			coalesce(sum(greatest(estimated_monthly_cost, reserved_monthly_cost)), 0)::float8
		FROM projects WHERE user_id = $1 AND project_id <> $2`, userID, exceptProjectID).
		Scan(&u.Projects, &u.Resources, &u.MonthlyCostUSD)
	return u, translate(err)
}

func totalMonthlyCost(ctx context.Context, db queryRower, except Key) (float64, error) {
	var total float64
	err := db.QueryRow(ctx, `SELECT coalesce(sum(greatest(estimated_monthly_cost, reserved_monthly_cost)), 0)::float8 FROM projects
		WHERE NOT (user_id = $1 AND project_id = $2)`, except.UserID, except.ProjectID).Scan(&total)
	return total, translate(err)
}

// TotalMonthlyCost sums the estimated (or reserved) cost of every project
// but one, for the platform-wide AWS_COST_BUDGET_LIMIT.
func (s *Store) TotalMonthlyCost(ctx context.Context, except Key) (float64, error) {
	return totalMonthlyCost(ctx, s.pool, except)
}

// Admission is a plan's claim on the user's quota and the platform budget.
type Admission struct {
	Resources  int
	MonthlyUSD float64
	// MaxResources is the user's resource quota.
	MaxResources int
	// BudgetUSD bounds all projects together; 0 disables the check.
	BudgetUSD float64
	// DryRun checks without reserving (a Blocked project asking whether
	// its last plan fits now).
	DryRun bool
}

// AdmissionResult says whether the plan fits, and what the others use.
type AdmissionResult struct {
	Admitted bool
	// OverQuota or OverBudget says which limit refused it.
	OverQuota, OverBudget bool
	// OthersResources is what the user's other projects hold or reserved;
	// OthersMonthlyUSD what every other project costs (budget check only).
	OthersResources  int
	OthersMonthlyUSD float64
}

// Admit checks a plan against the user's quota and the platform budget and,
// when it fits, reserves its resources and cost on the project in the same
// transaction. Admissions of one user are serialised by a transaction-level
// advisory lock (and all admissions by a second one when a budget is set),
// taken in a fixed order, so N concurrent plans against room for one admit
// exactly one.
func (s *Store) Admit(ctx context.Context, key Key, token string, a Admission) (AdmissionResult, error) {
	var res AdmissionResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('tenantform/user/' || $1, 0))`, key.UserID); err != nil {
			return translate(err)
		}
		if a.BudgetUSD > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('tenantform/budget', 0))`); err != nil {
				return translate(err)
			}
		}
		u, err := userUsage(ctx, tx, key.UserID, key.ProjectID)
		if err != nil {
			return err
		}
		res.OthersResources = u.Resources
		res.OverQuota = u.Resources+a.Resources > a.MaxResources
		if a.BudgetUSD > 0 && !res.OverQuota {
			if res.OthersMonthlyUSD, err = totalMonthlyCost(ctx, tx, key); err != nil {
				return err
			}
			res.OverBudget = res.OthersMonthlyUSD+a.MonthlyUSD > a.BudgetUSD
		}
		res.Admitted = !res.OverQuota && !res.OverBudget
		if !res.Admitted || a.DryRun {
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE projects SET reserved_resources = $4, reserved_monthly_cost = $5
			WHERE user_id = $1 AND project_id = $2 AND lease_token = $3::uuid`,
			key.UserID, key.ProjectID, token, a.Resources, a.MonthlyUSD)
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return ErrLeaseLost
		}
		return nil
	})
	return res, err
}

// TerraformState returns the raw state terraform's pg backend keeps for a
// workspace (schema.states), without running terraform: a project whose
// state holds nothing is removed without evaluating its configuration.
func (s *Store) TerraformState(ctx context.Context, schema, workspace string) ([]byte, bool, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM `+pgx.Identifier{schema, "states"}.Sanitize()+` WHERE name = $1`, workspace).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	// A missing table is never "no state" (NoStateTableError).
	return data, err == nil, translate(noStateTable(err, schema))
}
