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

// Speculative plans: a plan of a spec that is never applied, so that a
// user can see what a spec would do before PUTting it (HCP Terraform's
// speculative plans, Atlantis's plan on a pull request). The API queues one
// as a run of kind speculative holding the spec; a reconciler worker claims
// it like a project (a lease on the database's clock, round-robin across
// users, under the same per-user worker cap), plans it apart from the
// project, and records what it found on the run. Nothing here writes to the
// project row, its reservations or its Terraform state.

// Run kinds.
const (
	// KindReconcile: a run of the project's own reconcile.
	KindReconcile = "reconcile"
	// KindSpeculative: a plan that is never applied.
	KindSpeculative = "speculative"
)

// ReasonSpeculative is the reason recorded with every speculative run.
const ReasonSpeculative = "Speculative"

// MaxOpenSpeculativePlans bounds the speculative plans one user may have
// queued or running at once: each costs a terraform plan, and a client
// that asks faster than workers plan would otherwise grow the queue for
// ever.
const MaxOpenSpeculativePlans = 10

// SpeculativeLimitError refuses a speculative plan of a user who already
// has Limit of them waiting or running.
type SpeculativeLimitError struct {
	UserID string
	Limit  int
}

func (e *SpeculativeLimitError) Error() string {
	return fmt.Sprintf("user %s already has %d speculative plans queued or running, the most one user may have; wait until one finishes",
		e.UserID, e.Limit)
}

// speculativeLeases counts the live leases of speculative plans of the
// user named by the SQL expression user: they take workers, so the per-user
// worker cap counts them with the user's project leases.
func speculativeLeases(user string) string {
	return `(SELECT count(*) FROM runs s WHERE s.kind = 'speculative' AND s.finished_at IS NULL
				AND s.user_id = ` + user + ` AND s.lease_expires_at >= now())`
}

// SpeculativePlan is a speculative plan as a worker claims it.
type SpeculativePlan struct {
	Run
	// Spec is the spec to plan.
	Spec Spec
	// LeaseToken fences every write of the worker that claimed it.
	LeaseToken string
	// Attempts counts the workers that claimed it, this one included.
	Attempts int
}

// SpeculativeFindings is what a speculative plan found, kept on its run
// (Run.Speculative).
type SpeculativeFindings struct {
	// ProjectExists: the spec was planned against the project's current
	// state; false, against nothing (a project that does not exist yet).
	ProjectExists bool `json:"projectExists"`
	// Changes lists the address of every resource the plan would create,
	// update, replace or destroy, with that action.
	Changes []SpeculativeChange `json:"changes"`
	// ChangesOmitted counts the changes left out of Changes, past the
	// reconciler's bound on the list.
	ChangesOmitted int `json:"changesOmitted,omitempty"`
	// Admission is the verdict of quota, cost ceiling and budget.
	Admission Verdict `json:"admission"`
	// Policy is the verdict of the policy (the source and the plan).
	Policy Verdict `json:"policy"`
}

// SpeculativeChange is what the plan would do to one resource.
type SpeculativeChange struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	// Action is create, update, replace, delete or read.
	Action string `json:"action"`
}

// Verdict is the answer of one check, in the words the project would get.
type Verdict struct {
	// Verdict is admitted or blocked (admission), passed or refused
	// (policy), or notEvaluated when an earlier step stopped the plan.
	Verdict string `json:"verdict"`
	// Reason is the condition reason the project would get
	// (QuotaExceeded, BudgetExceeded, CostUnknown, PolicyViolation).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message"`
	// Violations are the policy's findings (file and line, or address).
	Violations any `json:"violations,omitempty"`
}

// Verdict values.
const (
	VerdictAdmitted     = "admitted"
	VerdictBlocked      = "blocked"
	VerdictPassed       = "passed"
	VerdictRefused      = "refused"
	VerdictNotEvaluated = "notEvaluated"
)

// QueueSpeculativePlan records a speculative plan of spec for the project
// key and wakes the reconcilers. For a project that exists it is numbered in
// the project's run history and compared with its state; for one that does
// not, it belongs to no project (a fresh uid) and is planned from nothing,
// and no project row is created. A project being destroyed refuses it
// (ErrConflict); a user with MaxOpenSpeculativePlans open ones gets a
// *SpeculativeLimitError.
func (s *Store) QueueSpeculativePlan(ctx context.Context, key Key, spec Spec, now time.Time) (Run, error) {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return Run{}, err
	}
	for attempt := 0; ; attempt++ {
		var run Run
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// Serialises one user's queueing, so the limit holds.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('tenantform/speculative/' || $1, 0))`, key.UserID); err != nil {
				return err
			}
			var open int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM runs
				WHERE kind = 'speculative' AND finished_at IS NULL AND user_id = $1`, key.UserID).Scan(&open); err != nil {
				return err
			}
			if open >= MaxOpenSpeculativePlans {
				return &SpeculativeLimitError{UserID: key.UserID, Limit: MaxOpenSpeculativePlans}
			}
			var uid *string
			var generation int64
			var deleting bool
			err := tx.QueryRow(ctx, `SELECT uid::text, generation, deletion_requested_at IS NOT NULL FROM projects
				WHERE user_id = $1 AND project_id = $2`, key.UserID, key.ProjectID).Scan(&uid, &generation, &deleting)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				uid, generation = nil, 0
			case err != nil:
				return err
			case deleting:
				return fmt.Errorf("%w: project %s is being destroyed; a speculative plan of it would show nothing that can be applied", ErrConflict, key)
			}
			run, err = scanRun(tx.QueryRow(ctx, `INSERT INTO runs (project_uid, number, user_id, project_id, generation,
					operation, reason, reconcile_id, owner, started_at, outcome, kind, spec)
				VALUES (coalesce($1::uuid, gen_random_uuid()),
					coalesce((SELECT max(number) FROM runs WHERE project_uid = $1::uuid), 0) + 1,
					$2, $3, $4, 'plan', $5, '', '', $6, 'queued', 'speculative', $7)
				RETURNING `+runColumns,
				uid, key.UserID, key.ProjectID, generation, ReasonSpeculative, micro(now), specJSON))
			if err != nil {
				return err
			}
			// The reconcilers' wake-up channel (the projects trigger's):
			// listeners re-read what is due and find the plan.
			_, err = tx.Exec(ctx, `SELECT pg_notify('tenantform_projects', $1)`, key.String())
			return err
		})
		// A run of the project's reconcile took the number meanwhile.
		if isUniqueViolation(err) && attempt < maxNumberRetries {
			continue
		}
		if err != nil {
			return Run{}, translate(err)
		}
		return run, nil
	}
}

// isUniqueViolation tells the database's unique violation from a
// conflict this package decided (a project being destroyed).
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// GetSpeculativePlan returns the speculative plan rowID of the project key
// (ErrNotFound when it is not one of that project's, or was pruned).
func (s *Store) GetSpeculativePlan(ctx context.Context, key Key, rowID int64) (Run, error) {
	return scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs
		WHERE id = $3 AND user_id = $1 AND project_id = $2 AND kind = 'speculative'`,
		key.UserID, key.ProjectID, rowID))
}

// ClaimSpeculativePlan leases the oldest open speculative plan of the user
// served longest ago (the round-robin ClaimDue keeps in user_claims), among
// users holding fewer than c.MaxPerUser live leases of projects and
// speculative plans together. A plan whose worker stopped (its lease
// expired) is claimed again.
func (s *Store) ClaimSpeculativePlan(ctx context.Context, c Claim, reconcileID string) (SpeculativePlan, bool, error) {
	var sp SpeculativePlan
	var spec []byte
	row := s.pool.QueryRow(ctx, `WITH candidate AS (
			SELECT r.id FROM runs r
			LEFT JOIN user_claims uc ON uc.user_id = r.user_id
			WHERE r.kind = 'speculative' AND r.finished_at IS NULL
			  AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
			  AND ($2::int <= 0 OR (SELECT count(*) FROM projects q
					WHERE q.user_id = r.user_id AND q.lease_expires_at >= now())
				+ `+speculativeLeases("r.user_id")+` < $2::int)
			ORDER BY uc.last_claimed_at NULLS FIRST, r.id
			LIMIT 1
			FOR UPDATE OF r SKIP LOCKED
		), claimed AS (
			UPDATE runs SET lease_owner = $1, owner = $1, reconcile_id = $4, lease_token = gen_random_uuid(),
				lease_expires_at = now() + make_interval(secs => $3::float8), started_at = now(),
				outcome = 'running', attempts = attempts + 1
			FROM candidate c WHERE runs.id = c.id
			RETURNING runs.*
		), served AS (
			INSERT INTO user_claims (user_id, last_claimed_at) SELECT user_id, clock_timestamp() FROM claimed
			ON CONFLICT (user_id) DO UPDATE SET last_claimed_at = EXCLUDED.last_claimed_at
		)
		SELECT `+runColumns+`, spec, lease_token::text, attempts FROM claimed`,
		c.Owner, c.MaxPerUser, c.LeaseFor.Seconds(), reconcileID)
	r, err := scanRun(scannerFunc(func(dest ...any) error {
		return row.Scan(append(dest, &spec, &sp.LeaseToken, &sp.Attempts)...)
	}))
	if errors.Is(err, ErrNotFound) {
		return SpeculativePlan{}, false, nil
	}
	if err != nil {
		return SpeculativePlan{}, false, err
	}
	sp.Run = r
	if err := json.Unmarshal(spec, &sp.Spec); err != nil {
		return SpeculativePlan{}, false, fmt.Errorf("speculative plan %d of %s/%s has an unreadable spec: %w", r.RowID, r.UserID, r.ProjectID, err)
	}
	return sp, true, nil
}

type scannerFunc func(dest ...any) error

func (f scannerFunc) Scan(dest ...any) error { return f(dest...) }

// RenewSpeculativeLease extends the lease of a claimed speculative plan on
// the database's clock; ErrLeaseLost when the claim is no longer its.
func (s *Store) RenewSpeculativeLease(ctx context.Context, rowID int64, token string, leaseFor time.Duration) error {
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET lease_expires_at = now() + make_interval(secs => $3::float8)
		WHERE id = $1 AND lease_token = $2::uuid AND finished_at IS NULL`, rowID, token, leaseFor.Seconds())
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// FinishSpeculativePlan records how a speculative plan ended and what it
// found, and drops the spec it planned; fenced on the claim, ErrLeaseLost
// when the claim is no longer its.
func (s *Store) FinishSpeculativePlan(ctx context.Context, rowID int64, token string, res RunResult, found *SpeculativeFindings, now time.Time) error {
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
	var findings []byte
	if found != nil {
		if findings, err = json.Marshal(found); err != nil {
			return err
		}
	}
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET finished_at = $3, outcome = $4, plan_summary = $5, cost_estimate = $6,
			estimated_monthly_cost = $7, log_tail = $8, error = $9, diagnostics = $10, speculative = $11,
			lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
			-- The spec (its variables may hold secrets) was needed only
			-- to plan it.
			spec = NULL
		WHERE id = $1 AND lease_token = $2::uuid AND finished_at IS NULL`,
		rowID, token, micro(now), res.Outcome, plan, cost, res.EstimatedMonthlyCostUSD, res.LogTail, res.Error, diags, findings)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// ReleaseSpeculativePlan hands a claimed speculative plan back to the
// queue (shutdown): another worker plans it, and this claim does not count
// as an attempt.
func (s *Store) ReleaseSpeculativePlan(ctx context.Context, rowID int64, token string) error {
	_, err := s.pool.Exec(ctx, `UPDATE runs SET outcome = 'queued', attempts = greatest(attempts - 1, 0),
			lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
		WHERE id = $1 AND lease_token = $2::uuid AND finished_at IS NULL`, rowID, token)
	return translate(err)
}
