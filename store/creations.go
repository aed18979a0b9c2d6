package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// CreationRecord is one resource an apply was about to create, recorded
// before terraform started (see migration 000011).
type CreationRecord struct {
	Address    string
	Type       string
	Name       string
	NamePrefix string
	Region     string
}

// PendingCreation is a creation record of an apply that did not succeed
// (interrupted, or failed), with that run's window: a resource it created
// cannot be older than StartedAt nor younger than FinishedAt.
type PendingCreation struct {
	CreationRecord
	ProjectUID string
	// RunRowID and RunNumber name the apply run.
	RunRowID   int64
	RunNumber  int64
	StartedAt  time.Time
	FinishedAt time.Time
}

// RecordCreations writes what the run (an apply about to start, or a plan
// kept for approval) will create. It must succeed before terraform starts.
func (s *Store) RecordCreations(ctx context.Context, runRowID int64, recs []CreationRecord) error {
	if len(recs) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, r := range recs {
		batch.Queue(`INSERT INTO creation_records (run_id, project_uid, address, resource_type, name, name_prefix, region)
			SELECT id, project_uid, $2, $3, $4, $5, $6 FROM runs WHERE id = $1`,
			runRowID, r.Address, r.Type, r.Name, r.NamePrefix, r.Region)
	}
	return translate(s.pool.SendBatch(ctx, batch).Close())
}

// CopyCreations records, for the apply run toRunRowID, what the plan run
// number planRun of the same project recorded (an approved plan, applied
// in a later pass).
func (s *Store) CopyCreations(ctx context.Context, projectUID string, planRun, toRunRowID int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO creation_records (run_id, project_uid, address, resource_type, name, name_prefix, region)
		SELECT $3, c.project_uid, c.address, c.resource_type, c.name, c.name_prefix, c.region
		FROM creation_records c JOIN runs r ON r.id = c.run_id
		WHERE r.project_uid = $1::uuid AND r.number = $2 AND r.operation = 'plan'`, projectUID, planRun, toRunRowID)
	return translate(err)
}

// PendingCreations returns the creation records of the project's applies
// that ended without success (a crash leaves the run open until the next
// pass closes it as failed). Records of open runs are not returned.
func (s *Store) PendingCreations(ctx context.Context, projectUID string) ([]PendingCreation, error) {
	return s.pendingCreations(ctx, `WHERE c.project_uid = $1::uuid AND r.finished_at IS NOT NULL`, projectUID)
}

// OthersPendingCreations returns the creation records of other projects'
// applies of the type that are still running or did not succeed, and whose
// window meets [from, to]: a resource one of them created may be
// indistinguishable from one of ours. Open runs count up to now.
func (s *Store) OthersPendingCreations(ctx context.Context, projectUID, resourceType string, from, to time.Time) ([]PendingCreation, error) {
	return s.pendingCreations(ctx, `WHERE c.project_uid <> $1::uuid AND c.resource_type = $2
		AND r.started_at <= $4 AND coalesce(r.finished_at, now()) >= $3`, projectUID, resourceType, micro(from), micro(to))
}

func (s *Store) pendingCreations(ctx context.Context, where string, args ...any) ([]PendingCreation, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.address, c.resource_type, c.name, c.name_prefix, c.region, c.project_uid::text,
			r.id, r.number, r.started_at, coalesce(r.finished_at, now())
		FROM creation_records c JOIN runs r ON r.id = c.run_id
		`+where+` AND r.operation = 'apply' AND r.outcome <> 'succeeded'
		ORDER BY r.id, c.address`, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []PendingCreation
	for rows.Next() {
		var p PendingCreation
		if err := rows.Scan(&p.Address, &p.Type, &p.Name, &p.NamePrefix, &p.Region, &p.ProjectUID,
			&p.RunRowID, &p.RunNumber, &p.StartedAt, &p.FinishedAt); err != nil {
			return nil, translate(err)
		}
		p.StartedAt, p.FinishedAt = p.StartedAt.UTC(), p.FinishedAt.UTC()
		out = append(out, p)
	}
	return out, translate(rows.Err())
}

// ResolveCreations drops the project's creation records up to and
// including the run throughRunRowID: an apply succeeded after them, with
// whatever the recovery found adopted or deleted.
func (s *Store) ResolveCreations(ctx context.Context, projectUID string, throughRunRowID int64) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM creation_records WHERE project_uid = $1::uuid AND run_id <= $2`,
		projectUID, throughRunRowID)
	return translate(err)
}
