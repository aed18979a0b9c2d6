package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

const projectColumns = `user_id, project_id, uid::text, spec, generation, revision, approved_generation,
	created_at, updated_at, expires_at, deletion_requested_at,
	phase, observed_generation, conditions, resource_count, estimated_monthly_cost::float8, outputs,
	status_message, last_error, last_applied_at, last_verified_at, attempts, next_attempt_at,
	due_at, coalesce(lease_owner, ''), lease_expires_at, coalesce(lease_token::text, ''),
	reserved_resources, reserved_monthly_cost::float8, planned_resources, planned_monthly_cost::float8,
	pending_plan_run, approved_run, force_destroy`

// scanProject reads a row of projectColumns, followed by the extra
// columns a query adds (scanned into extra).
func scanProject(row pgx.Row, extra ...any) (Project, error) {
	var p Project
	var spec, conditions, outputs []byte
	var phase string
	dest := append([]any{&p.UserID, &p.ProjectID, &p.UID, &spec, &p.Generation, &p.Revision, &p.ApprovedGeneration,
		&p.CreatedAt, &p.UpdatedAt, &p.ExpiresAt, &p.DeletionRequestedAt,
		&phase, &p.Status.ObservedGeneration, &conditions, &p.Status.ResourceCount, &p.Status.EstimatedMonthlyCostUSD, &outputs,
		&p.Status.Message, &p.Status.LastError, &p.Status.LastAppliedAt, &p.Status.LastVerifiedAt, &p.Status.Attempts, &p.Status.NextAttemptAt,
		&p.DueAt, &p.LeaseOwner, &p.LeaseExpiresAt, &p.LeaseToken,
		&p.Status.ReservedResources, &p.Status.ReservedMonthlyCostUSD, &p.Status.PlannedResources, &p.Status.PlannedMonthlyCostUSD,
		&p.Status.PendingPlanRun, &p.ApprovedRun, &p.ForceDestroy}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Project{}, translate(err)
	}
	p.Status.Phase = Phase(phase)
	if err := json.Unmarshal(spec, &p.Spec); err != nil {
		return Project{}, fmt.Errorf("project %s has an unreadable spec: %w", p.Key, err)
	}
	if err := json.Unmarshal(conditions, &p.Status.Conditions); err != nil {
		return Project{}, fmt.Errorf("project %s has unreadable conditions: %w", p.Key, err)
	}
	if err := json.Unmarshal(outputs, &p.Status.Outputs); err != nil {
		return Project{}, fmt.Errorf("project %s has unreadable outputs: %w", p.Key, err)
	}
	for _, t := range []*time.Time{&p.CreatedAt, &p.UpdatedAt, &p.ExpiresAt, &p.DueAt} {
		*t = t.UTC()
	}
	return p, nil
}

// PutResult says what PutSpec did.
type PutResult int

const (
	Created PutResult = iota
	Updated
	Unchanged
)

// PutSpec creates the project or replaces its spec. The generation is bumped
// only when the spec really changes. ifMatch, when not nil, must equal the
// current generation (ErrPreconditionFailed otherwise; a project that does
// not exist matches nothing). A project being destroyed refuses new specs
// (ErrConflict). Concurrent writers serialize on the row lock, so none is
// lost.
func (s *Store) PutSpec(ctx context.Context, key Key, spec Spec, ifMatch *int64, now time.Time) (Project, PutResult, error) {
	return s.PutSpecWithin(ctx, key, spec, ifMatch, now, 0)
}

// ProjectLimitError refuses a new project of a user who already has
// Limit projects (MAX_PROJECTS_PER_USER). It is a conflict: deleting one of
// the user's projects makes room.
type ProjectLimitError struct {
	UserID string
	Limit  int
}

func (e *ProjectLimitError) Error() string {
	return fmt.Sprintf("user %s already has %d projects, the most one user may have (MAX_PROJECTS_PER_USER); delete one of them before creating another",
		e.UserID, e.Limit)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ProjectLimitError) Is(target error) bool { return target == ErrConflict }

// PutSpecWithin is PutSpec that, when maxProjects is positive, refuses to
// create a project for a user who already has that many. Creations of one
// user are serialised by a transaction-level advisory lock, so concurrent
// PUTs cannot overshoot the limit; updates of existing projects are never
// refused.
func (s *Store) PutSpecWithin(ctx context.Context, key Key, spec Spec, ifMatch *int64, now time.Time, maxProjects int) (Project, PutResult, error) {
	now = micro(now)
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return Project{}, 0, err
	}
	if p, res, ok, err := s.putExisting(ctx, key, specJSON, spec.TTLMinutes, ifMatch, now); ok || err != nil {
		return p, res, err
	}
	return s.putTx(ctx, key, spec, specJSON, ifMatch, now, maxProjects)
}

// putTx is the PUT that putExisting did not decide, in a transaction:
// creations (under the user's project limit), If-Match failures, projects
// being destroyed, and whatever changed since putExisting looked.
func (s *Store) putTx(ctx context.Context, key Key, spec Spec, specJSON []byte, ifMatch *int64, now time.Time, maxProjects int) (Project, PutResult, error) {
	ttl := time.Duration(spec.TTLMinutes) * time.Minute
	for attempt := 0; ; attempt++ {
		var p Project
		var res PutResult
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var generation int64
			var deleting, destroyFailed bool
			var same bool
			err := tx.QueryRow(ctx, `SELECT generation, deletion_requested_at IS NOT NULL, spec = $3::jsonb,
					conditions @> '[{"type": "DestroyFailed", "status": "True"}]'::jsonb
				FROM projects WHERE user_id = $1 AND project_id = $2 FOR UPDATE`,
				key.UserID, key.ProjectID, specJSON).Scan(&generation, &deleting, &same, &destroyFailed)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				if ifMatch != nil {
					return ErrPreconditionFailed
				}
				if maxProjects > 0 {
					if err := checkProjectLimit(ctx, tx, key.UserID, maxProjects); err != nil {
						return err
					}
				}
				p, err = scanProject(tx.QueryRow(ctx, `INSERT INTO projects
					(user_id, project_id, spec, created_at, updated_at, expires_at, due_at)
					VALUES ($1, $2, $3, $4, $4, $5, $4)
					ON CONFLICT DO NOTHING
					RETURNING `+projectColumns,
					key.UserID, key.ProjectID, specJSON, now, now.Add(ttl)))
				res = Created
				return err
			case err != nil:
				return err
			}
			if ifMatch != nil && *ifMatch != generation {
				return ErrPreconditionFailed
			}
			// A destroy that failed may need a corrected spec to finish
			// (a configuration that cannot even be evaluated): that PUT is
			// accepted, and the project stays on its way out.
			if deleting && !destroyFailed {
				return fmt.Errorf("%w: project %s is being destroyed; wait until it is gone, then create it again", ErrConflict, key)
			}
			if same {
				res = Unchanged
				p, err = scanProject(tx.QueryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE user_id = $1 AND project_id = $2`,
					key.UserID, key.ProjectID))
				return err
			}
			// A changed TTL restarts the clock from now, as extend does.
			res = Updated
			p, err = scanProject(tx.QueryRow(ctx, `UPDATE projects SET
					spec = $3, generation = generation + 1, revision = revision + 1,
					updated_at = $4, due_at = $4,
					expires_at = CASE WHEN (spec->>'ttlMinutes')::int IS DISTINCT FROM $5::int
						THEN $4::timestamptz + make_interval(mins => $5::int) ELSE expires_at END
				WHERE user_id = $1 AND project_id = $2
				RETURNING `+projectColumns,
				key.UserID, key.ProjectID, specJSON, now, spec.TTLMinutes))
			return err
		})
		// The INSERT found a row a concurrent creator committed after our
		// SELECT: go round again and update it instead.
		if errors.Is(translate(err), ErrNotFound) && res == Created && attempt < 3 {
			continue
		}
		if err != nil {
			return Project{}, 0, translate(err)
		}
		return p, res, nil
	}
}

// GetProjectWithActualCost is GetProject and, for a project that exists,
// ActualMonthToDate of its Project tag (projectTag), in one statement: a
// GET of a project pays one wait and one query, as a GET of the row alone
// would. The cost is nil while Cost Explorer has not been asked this month.
func (s *Store) GetProjectWithActualCost(ctx context.Context, key Key, projectTag string) (Project, *ActualCost, error) {
	q, args := actualCostQuery(projectActualCostSum, projectTag)
	var cost ActualCost
	var refreshed *time.Time
	p, err := scanProject(s.pool.QueryRow(ctx, `SELECT `+projectColumns+`, ac.*
		FROM projects, (`+q+`) AS ac (usd, month, refreshed_at)
		WHERE user_id = $3 AND project_id = $4`, append(args, key.UserID, key.ProjectID)...),
		&cost.USD, &cost.Month, &refreshed)
	switch {
	case errors.Is(err, ErrNotFound):
		return Project{}, nil, s.gone(ctx, key)
	case err != nil:
		return Project{}, nil, err
	case refreshed == nil:
		return p, nil, nil
	}
	cost.UpdatedAt = refreshed.UTC()
	return p, &cost, nil
}

// GetProject returns one project. A project deleted or expired within the
// run retention returns a *GoneError (errors.Is ErrGone) with its final
// status; one never seen, ErrNotFound.
func (s *Store) GetProject(ctx context.Context, key Key) (Project, error) {
	p, err := scanProject(s.pool.QueryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE user_id = $1 AND project_id = $2`,
		key.UserID, key.ProjectID))
	if errors.Is(err, ErrNotFound) {
		return Project{}, s.gone(ctx, key)
	}
	return p, err
}

// gone returns the project's newest tombstone as a *GoneError, or
// ErrNotFound.
func (s *Store) gone(ctx context.Context, key Key) error {
	var t Tombstone
	var status []byte
	err := s.pool.QueryRow(ctx, `SELECT user_id, project_id, uid::text, generation, status, reason, deleted_at
		FROM project_tombstones WHERE user_id = $1 AND project_id = $2 ORDER BY deleted_at DESC LIMIT 1`,
		key.UserID, key.ProjectID).Scan(&t.UserID, &t.ProjectID, &t.UID, &t.Generation, &status, &t.Reason, &t.DeletedAt)
	if err != nil {
		return translate(err)
	}
	if err := json.Unmarshal(status, &t.Status); err != nil {
		return fmt.Errorf("tombstone of %s has an unreadable status: %w", key, err)
	}
	t.DeletedAt = t.DeletedAt.UTC()
	// The status was written by the pass that destroyed the project, while
	// it was still Destroying; what a reader must learn is that it is over.
	t.Status.Phase = PhaseDestroyed
	return &GoneError{Tombstone: t}
}

// ListOptions filters and pages ListProjects.
type ListOptions struct {
	UserID string // empty: every user
	Phase  Phase  // empty: every phase
	Limit  int    // 1..500
	After  string // cursor returned by the previous page
}

// ListProjects returns projects ordered by (user, project) and the cursor of
// the next page ("" on the last page).
func (s *Store) ListProjects(ctx context.Context, opts ListOptions) ([]Project, string, error) {
	if opts.Limit <= 0 || opts.Limit > 500 {
		opts.Limit = 100
	}
	var after Key
	if opts.After != "" {
		raw, err := base64.RawURLEncoding.DecodeString(opts.After)
		parts := strings.SplitN(string(raw), "/", 2)
		if err != nil || len(parts) != 2 {
			return nil, "", fmt.Errorf("%w: the cursor %q is not one this server returned", ErrInvalidCursor, opts.After)
		}
		after = Key{UserID: parts[0], ProjectID: parts[1]}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+projectColumns+` FROM projects
		WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR phase = $2)
		  AND (user_id, project_id) > ($3, $4)
		ORDER BY user_id, project_id LIMIT $5`,
		opts.UserID, string(opts.Phase), after.UserID, after.ProjectID, opts.Limit+1)
	if err != nil {
		return nil, "", translate(err)
	}
	defer rows.Close()
	var out []Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > opts.Limit {
		out = out[:opts.Limit]
		last := out[len(out)-1].Key
		next = base64.RawURLEncoding.EncodeToString([]byte(last.UserID + "/" + last.ProjectID))
	}
	return out, next, nil
}

// ErrInvalidCursor: a list cursor that this server did not produce.
var ErrInvalidCursor = errors.New("invalid cursor")

// clientWrite runs an UPDATE of client-owned metadata on a project that is
// not being destroyed. It bumps the revision, which wakes the reconciler.
func (s *Store) clientWrite(ctx context.Context, key Key, set string, args ...any) (Project, error) {
	return scanProject(s.pool.QueryRow(ctx, `UPDATE projects SET `+set+`, revision = revision + 1
		WHERE user_id = $1 AND project_id = $2 AND deletion_requested_at IS NULL
		RETURNING `+projectColumns,
		append([]any{key.UserID, key.ProjectID}, args...)...))
}

// RequestDeletion marks the project for destruction. The row stays until the
// reconciler has destroyed everything (the finalizer). Repeating it is
// harmless and keeps the first request time.
//
// force (admin only) finishes a destroy that cannot complete: the reconciler
// destroys from state alone, without evaluating the tenant's configuration,
// and removes the row even if that destroy fails (what is left is reported
// as orphans).
func (s *Store) RequestDeletion(ctx context.Context, key Key, force bool, now time.Time) (Project, error) {
	now = micro(now)
	p, err := scanProject(s.pool.QueryRow(ctx, `UPDATE projects SET
			deletion_requested_at = coalesce(deletion_requested_at, $3), force_destroy = force_destroy OR $4,
			updated_at = $3, due_at = $3, revision = revision + 1
		WHERE user_id = $1 AND project_id = $2
		  AND (deletion_requested_at IS NULL OR ($4 AND NOT force_destroy))
		RETURNING `+projectColumns, key.UserID, key.ProjectID, now, force))
	if errors.Is(err, ErrNotFound) {
		return s.GetProject(ctx, key) // already being destroyed, or gone
	}
	return p, err
}

// Extend moves the project's expiry. A project being destroyed cannot be
// extended (ErrConflict).
func (s *Store) Extend(ctx context.Context, key Key, expiresAt, now time.Time) (Project, error) {
	now = micro(now)
	p, err := s.clientWrite(ctx, key, `expires_at = $3, updated_at = $4, due_at = $4`,
		micro(expiresAt), now)
	if errors.Is(err, ErrNotFound) {
		return Project{}, s.whyNotWritable(ctx, key)
	}
	return p, err
}

// whyNotWritable explains why a client write that requires a live project
// matched no row: the project is gone, or it is being destroyed.
func (s *Store) whyNotWritable(ctx context.Context, key Key) error {
	cur, err := s.GetProject(ctx, key)
	if err != nil {
		return err
	}
	if cur.DeletionRequestedAt != nil {
		return fmt.Errorf("%w: project %s is being destroyed", ErrConflict, key)
	}
	return ErrNotFound
}

// Approval names the plan a client reviewed: by its run number, or by the
// generation it was made for (accepted when it is the generation of the plan
// awaiting approval).
type Approval struct {
	RunID      int64
	Generation int64
}

// Approve approves the saved plan awaiting approval, in one statement fenced
// on that plan: approving a plan that does not exist yet, or one that a
// newer plan replaced, is a conflict. The reconciler then applies exactly
// that planfile.
func (s *Store) Approve(ctx context.Context, key Key, a Approval, now time.Time) (Project, error) {
	now = micro(now)
	p, err := scanProject(s.pool.QueryRow(ctx, `UPDATE projects p SET approved_run = p.pending_plan_run,
			updated_at = $5, due_at = $5, revision = revision + 1
		WHERE user_id = $1 AND project_id = $2 AND deletion_requested_at IS NULL AND pending_plan_run <> 0
		  AND ($3::bigint = 0 OR pending_plan_run = $3)
		  AND ($4::bigint = 0 OR EXISTS (SELECT 1 FROM runs r
				WHERE r.project_uid = p.uid AND r.number = p.pending_plan_run AND r.generation = $4 AND p.generation = $4))
		RETURNING `+projectColumns, key.UserID, key.ProjectID, a.RunID, a.Generation, now))
	if !errors.Is(err, ErrNotFound) {
		return p, err
	}
	cur, err := s.GetProject(ctx, key)
	switch {
	case err != nil:
		return Project{}, err
	case cur.DeletionRequestedAt != nil:
		return Project{}, fmt.Errorf("%w: project %s is being destroyed", ErrConflict, key)
	case !cur.Spec.RequireApproval:
		return Project{}, fmt.Errorf("%w: project %s does not require approval (requireApproval is false): its plans are applied without one", ErrConflict, key)
	case cur.Status.PendingPlanRun == 0 && cur.Status.Phase == PhaseReady && cur.Status.ObservedGeneration == cur.Generation:
		return Project{}, fmt.Errorf("%w: nothing of project %s awaits approval: generation %d is applied and the project is Ready; a new plan waits for approval after the next spec change or detected drift",
			ErrConflict, key, cur.Generation)
	case cur.Status.PendingPlanRun == 0:
		return Project{}, fmt.Errorf("%w: no plan of project %s is awaiting approval yet; approve once status.pendingPlanRun names one", ErrConflict, key)
	case a.RunID != 0:
		return Project{}, fmt.Errorf("%w: run %d is not the plan awaiting approval; run %d is", ErrConflict, a.RunID, cur.Status.PendingPlanRun)
	default:
		return Project{}, fmt.Errorf("%w: generation %d is not the generation of the plan awaiting approval (run %d, current generation %d)",
			ErrConflict, a.Generation, cur.Status.PendingPlanRun, cur.Generation)
	}
}

// checkProjectLimit takes the user's creation lock and refuses when the
// user already has limit projects. Counting stops at limit rows, so the
// check costs the same whatever the table holds.
func checkProjectLimit(ctx context.Context, tx pgx.Tx, userID string, limit int) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('tenantform/projects/' || $1, 0))`, userID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM projects WHERE user_id = $1 LIMIT $2) mine`,
		userID, limit).Scan(&n); err != nil {
		return err
	}
	if n >= limit {
		return &ProjectLimitError{UserID: userID, Limit: limit}
	}
	return nil
}

// GetProjectUnlessVersion is GetProject for a reader that already holds
// the project as it was at watch version known (a GET's remembered
// answer): when the row's watch_version is still known, it returns
// unchanged and no project, without decoding the row. Every change a
// client can see takes a new watch version (migrations 000008 and
// 000014), and a project created again gets a new one, so an unchanged
// version is an unchanged answer. Otherwise it is GetProject, and
// version is the project's watch version.
func (s *Store) GetProjectUnlessVersion(ctx context.Context, key Key, known int64) (p Project, version int64, unchanged bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT `+projectColumns+`, watch_version FROM projects WHERE user_id = $1 AND project_id = $2`,
		key.UserID, key.ProjectID)
	if err != nil {
		return Project{}, 0, false, translate(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Project{}, 0, false, translate(err)
		}
		return Project{}, 0, false, s.gone(ctx, key)
	}
	// A nil destination skips its column: the version alone first.
	dest := make([]any, len(rows.FieldDescriptions()))
	dest[len(dest)-1] = &version
	if err := rows.Scan(dest...); err != nil {
		return Project{}, 0, false, translate(err)
	}
	if version == known {
		return Project{}, version, true, nil
	}
	p, err = scanProject(rows, nil)
	return p, version, false, err
}
