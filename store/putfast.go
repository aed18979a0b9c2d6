package store

import (
	"context"
	"errors"
	"time"
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
	RETURNING ` + projectColumns + `, true
)
SELECT * FROM changed
UNION ALL
SELECT ` + projectColumns + `, false FROM projects
WHERE user_id = $1 AND project_id = $2
	AND spec = $3::jsonb
	AND ($6::bigint IS NULL OR generation = $6::bigint)
	AND (deletion_requested_at IS NULL OR ` + destroyFailedSQL + `)
	AND NOT EXISTS (SELECT FROM changed)`

// destroyFailedSQL is true for a project whose destroy failed: it may
// take a corrected spec while it is on its way out.
const destroyFailedSQL = `conditions @> '[{"type": "DestroyFailed", "status": "True"}]'::jsonb`

// putExisting runs putExistingSQL. ok is false when it decided nothing
// (no row): the caller takes the transactional path.
func (s *Store) putExisting(ctx context.Context, key Key, specJSON []byte, ttlMinutes int, ifMatch *int64, now time.Time) (Project, PutResult, bool, error) {
	var changed bool
	p, err := scanProject(s.pool.QueryRow(ctx, putExistingSQL,
		key.UserID, key.ProjectID, specJSON, now, ttlMinutes, ifMatch), &changed)
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
