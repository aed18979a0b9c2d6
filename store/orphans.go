package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// projectLockSQL takes the exclusive advisory lock on a project key that
// every INSERT INTO projects takes shared (migration 000010's trigger):
// the same key expression in both places.
const projectLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('tenantform/project/' || $1 || '/' || $2, 0))`

// OrphanMark is what the sweep remembers of an orphan between listings.
type OrphanMark struct {
	// ListedAt is the listing (database time) at which a sweep first found
	// the resource orphaned.
	ListedAt time.Time
	// LastSeen is the newest listing that shows the resource.
	LastSeen time.Time
}

// MarkOrphans records that a sweep found arns orphaned in the current
// snapshot, and forgets the mark of every other resource (it has an owner
// again). It returns the mark of every arn still in the snapshot: a
// resource first marked now has ListedAt == LastSeen.
func (s *Store) MarkOrphans(ctx context.Context, arns []string) (map[string]OrphanMark, error) {
	marks := make(map[string]OrphanMark, len(arns))
	if arns == nil {
		arns = []string{} // a NULL array would match nothing, and clear nothing
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE aws_inventory SET orphan_listed_at = NULL
			WHERE orphan_listed_at IS NOT NULL AND NOT (arn = ANY($1::text[]))`, arns); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE aws_inventory SET orphan_listed_at = coalesce(orphan_listed_at, last_seen)
			WHERE arn = ANY($1::text[]) RETURNING arn, orphan_listed_at, last_seen`, arns)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var arn string
			var m OrphanMark
			if err := rows.Scan(&arn, &m.ListedAt, &m.LastSeen); err != nil {
				return err
			}
			m.ListedAt, m.LastSeen = m.ListedAt.UTC(), m.LastSeen.UTC()
			marks[arn] = m
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("cannot record the orphans of the sweep: %w", translate(err))
	}
	return marks, nil
}

// OwnerRow is what the orphan sweep needs of the project a resource's tags
// name, read under the project's lock.
type OwnerRow struct {
	// CreatedAt tells the project's incarnations apart; resources carry it
	// as their CreatedAt tag.
	CreatedAt time.Time
	// Leased: a reconciler holds the project now (its lease has not
	// expired by the database's clock) and may be running terraform.
	Leased bool
	// Deleting: deletion was requested; the finalizer owns what is left.
	Deleting bool
}

// SweepOrphan reads the project key names (nil when there is no such row)
// and its terraform state (workspace in stateSchema's states table; nil
// when there is none) and calls decide with them; when decide says so,
// delete runs, still under the same locks, and SweepOrphan returns its
// error. A missing states table is an error (NoStateTableError): nothing
// is deleted without knowing that no state holds it.
//
// Why this is safe against a concurrent create or re-create: the whole
// call is one transaction that first takes the exclusive advisory lock on
// key. Creating a project row takes the same lock shared (a trigger on
// INSERT, so every path does), so:
//   - a create that came first has committed before the lock is granted,
//     and the row is read (READ COMMITTED: each statement sees what was
//     committed before it began);
//   - a create that comes later waits until delete has finished and the
//     transaction has ended, so the project it makes never sees the
//     resource being deleted.
//
// An existing row is read FOR SHARE: while delete runs, no reconciler can
// claim the project (a claim updates the row) and no request can change or
// delete it. decide must refuse a Leased row: a reconciler that claimed it
// before may be applying right now, and could be taking over the very
// resource being deleted (a fixed name the new incarnation re-creates).
//
// The transaction stays open while delete makes its AWS calls: give ctx a
// deadline.
func (s *Store) SweepOrphan(ctx context.Context, key Key, stateSchema, workspace string,
	decide func(owner *OwnerRow, state []byte) bool, delete func(ctx context.Context) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("cannot check project %s before deleting its orphan: %w", key, translate(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing was written
	if _, err := tx.Exec(ctx, projectLockSQL, key.UserID, key.ProjectID); err != nil {
		return fmt.Errorf("cannot lock project %s before deleting its orphan: %w", key, translate(err))
	}
	var row OwnerRow
	err = tx.QueryRow(ctx, `SELECT created_at, coalesce(lease_expires_at >= now(), false), deletion_requested_at IS NOT NULL
		FROM projects WHERE user_id = $1 AND project_id = $2 FOR SHARE`, key.UserID, key.ProjectID).
		Scan(&row.CreatedAt, &row.Leased, &row.Deleting)
	owner := &row
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		owner = nil
	case err != nil:
		return fmt.Errorf("cannot read project %s before deleting its orphan: %w", key, translate(err))
	default:
		row.CreatedAt = row.CreatedAt.UTC()
	}
	var state []byte
	err = tx.QueryRow(ctx, `SELECT data FROM `+pgx.Identifier{stateSchema, "states"}.Sanitize()+` WHERE name = $1`, workspace).Scan(&state)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("cannot read the terraform state of project %s before deleting its orphan: %w", key, translate(noStateTable(err, stateSchema)))
	}
	if !decide(owner, state) {
		return nil
	}
	// The transaction only read and locked: the deferred rollback ends it
	// and releases the locks once delete is over.
	return delete(ctx)
}
