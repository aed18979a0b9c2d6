package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// putExistingSQL is the common PUT in one statement and one round trip:
// a project that exists and may take the spec either gets it (a changed
// spec: the same UPDATE PutSpecWithin's transaction makes) or is returned
// as it is (the same spec). Everything else — no such project, an If-Match
// that does not match, a project being destroyed — returns no row, and
// PutSpecWithin's transaction decides it as before.
//
// The UPDATE's WHERE holds every check the transaction makes under its
// row lock; PostgreSQL re-evaluates it on the newest version of a row
// another writer changed meanwhile, so the checks and the write are as
// atomic as SELECT … FOR UPDATE followed by UPDATE. The same-spec branch
// reads without a lock: it writes nothing, so it is ordered at its
// snapshot, before any writer not yet committed.
const putExistingSQL = `WITH changed AS (
	UPDATE projects SET
		spec = $3::jsonb, generation = generation + 1, revision = revision + 1,
		updated_at = $4, due_at = $4,
		expires_at = CASE WHEN (spec->>'ttlMinutes')::int IS DISTINCT FROM $5::int
			THEN $4::timestamptz + make_interval(mins => $5::int) ELSE expires_at END
	WHERE user_id = $1 AND project_id = $2
		AND spec <> $3::jsonb
		AND ($6::bigint IS NULL OR generation = $6::bigint)
		AND (deletion_requested_at IS NULL OR ` + destroyFailedSQL + `)
		AND NOT ($7::bool AND ` + costOverrideSQL + `)
	RETURNING ` + projectColumns + `, true
)
SELECT * FROM changed
UNION ALL
SELECT ` + projectColumns + `, false FROM projects
WHERE user_id = $1 AND project_id = $2
	AND spec = $3::jsonb
	AND ($6::bigint IS NULL OR generation = $6::bigint)
	AND (deletion_requested_at IS NULL OR ` + destroyFailedSQL + `)
	AND NOT ($7::bool AND ` + costOverrideSQL + `)
	AND NOT EXISTS (SELECT FROM changed)`

// costOverrideSQL is true when the user ($1) has a quota override that
// sets a cost cap: a spec whose cap was taken to be MAX_COST_PER_PROJECT
// is then not the user's spec ($7, see PutSpecUnlessCostOverride).
const costOverrideSQL = `EXISTS (SELECT FROM user_quotas WHERE user_id = $1 AND max_monthly_cost_usd IS NOT NULL)`

// destroyFailedSQL is true for a project whose destroy failed: it may
// take a corrected spec while it is on its way out.
const destroyFailedSQL = `conditions @> '[{"type": "DestroyFailed", "status": "True"}]'::jsonb`

// putExisting runs putExistingSQL. ok is false when it decided nothing
// (no row): the caller takes the transactional path.
func (s *Store) putExisting(ctx context.Context, key Key, specJSON []byte, ttlMinutes int, ifMatch *int64, now time.Time) (Project, PutResult, bool, error) {
	return decidedPut(s.pool.QueryRow(ctx, putExistingSQL,
		key.UserID, key.ProjectID, specJSON, now, ttlMinutes, ifMatch, false))
}

// decidedPut reads putExistingSQL's answer.
func decidedPut(row pgx.Row) (Project, PutResult, bool, error) {
	var changed bool
	p, err := scanProject(row, &changed)
	switch {
	case errors.Is(err, ErrNotFound):
		return Project{}, 0, false, nil
	case err != nil:
		return Project{}, 0, false, err
	case changed:
		return p, Updated, true, nil
	}
	return p, Unchanged, true, nil
}

// PutSpecUnlessCostOverride is PutSpecWithin for a spec whose cost cap
// (the default and the bound of maxMonthlyCostUSD) the caller took to be
// MAX_COST_PER_PROJECT, the cap of every user without a quota override. It
// reads the user's override in the same round trip as the write, which it
// guards: when the override sets a cost cap, nothing is written and the
// override is returned, for the caller to redo the spec with its cap and
// call PutSpecWithin. A user without one (the common case) has a PUT of an
// existing project in one round trip instead of two.
//
// Read and write are not one snapshot, no more than the caller's read of
// the override and PutSpecWithin would be: an override set between them
// is the same race as before, and the guarded write cannot take a
// default-capped spec for a user whose override its own statement sees.
func (s *Store) PutSpecUnlessCostOverride(ctx context.Context, key Key, spec Spec, ifMatch *int64, now time.Time, maxProjects int) (Project, PutResult, *QuotaOverride, error) {
	now = micro(now)
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return Project{}, 0, nil, err
	}
	b := &pgx.Batch{}
	b.Queue(quotaOverrideSQL, key.UserID)
	b.Queue(putExistingSQL, key.UserID, key.ProjectID, specJSON, now, spec.TTLMinutes, ifMatch, true)
	br := s.pool.SendBatch(ctx, b)
	q, qErr := scanQuotaOverride(br.QueryRow())
	p, res, decided, pErr := decidedPut(br.QueryRow())
	if err := br.Close(); err != nil && qErr == nil && pErr == nil {
		return Project{}, 0, nil, translate(err)
	}
	switch {
	case qErr != nil:
		return Project{}, 0, nil, qErr
	case pErr != nil:
		return Project{}, 0, nil, pErr
	case decided:
		return p, res, nil, nil
	case q.MaxMonthlyCostUSD != nil:
		return Project{}, 0, &q, nil
	}
	p, res, err = s.putTx(ctx, key, spec, specJSON, ifMatch, now, maxProjects)
	return p, res, nil, err
}
