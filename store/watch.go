package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// WatchChannel is the NOTIFY channel on which every change a watcher can
// see is announced (empty payload): the listener then asks
// ProjectChangesSince what changed.
const WatchChannel = "tenantform_project_changes"

// ProjectChange is one change of a project, in watch-version order: the
// project as it is now, or (Deleted) its tombstone.
type ProjectChange struct {
	Version   int64
	Key       Key
	Project   Project
	Deleted   bool
	Tombstone Tombstone
}

// versionedRow scans a leading watch_version before the project's columns.
type versionedRow struct {
	pgx.Row
	version *int64
}

func (r versionedRow) Scan(dest ...any) error {
	return r.Row.Scan(append([]any{r.version}, dest...)...)
}

// ProjectChangesSince returns up to limit changes with a watch version
// above since, oldest first: one indexed query, however many streams are
// watching. userID, when not empty, keeps that user's changes only.
func (s *Store) ProjectChangesSince(ctx context.Context, since int64, userID string, limit int) ([]ProjectChange, error) {
	var out []ProjectChange
	rows, err := s.pool.Query(ctx, `SELECT watch_version, `+projectColumns+` FROM projects
		WHERE watch_version > $1 AND ($2 = '' OR user_id = $2) ORDER BY watch_version LIMIT $3`, since, userID, limit)
	if err != nil {
		return nil, translate(err)
	}
	for rows.Next() {
		var c ProjectChange
		p, err := scanProject(versionedRow{rows, &c.Version})
		if err != nil {
			rows.Close()
			return nil, err
		}
		c.Key, c.Project = p.Key, p
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	rows, err = s.pool.Query(ctx, `SELECT watch_version, user_id, project_id, uid::text, generation, status, reason, deleted_at
		FROM project_tombstones WHERE watch_version > $1 AND ($2 = '' OR user_id = $2) ORDER BY watch_version LIMIT $3`, since, userID, limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		c := ProjectChange{Deleted: true}
		t := &c.Tombstone
		var status []byte
		if err := rows.Scan(&c.Version, &t.UserID, &t.ProjectID, &t.UID, &t.Generation, &status, &t.Reason, &t.DeletedAt); err != nil {
			return nil, translate(err)
		}
		if err := json.Unmarshal(status, &t.Status); err != nil {
			return nil, fmt.Errorf("tombstone of %s/%s has an unreadable status: %w", t.UserID, t.ProjectID, err)
		}
		t.DeletedAt = t.DeletedAt.UTC()
		t.Status.Phase = PhaseDestroyed
		c.Key = Key{UserID: t.UserID, ProjectID: t.ProjectID}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	// Two ordered lists merged: oldest first, and no more than limit.
	slices.SortFunc(out, func(a, b ProjectChange) int { return cmp.Compare(a.Version, b.Version) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// WatchVersion is the newest watch version handed out: a stream that
// starts now has seen everything up to it.
func (s *Store) WatchVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM project_watch_version`).Scan(&v)
	return v, translate(err)
}

// ListenChanges calls onNotify whenever a change is announced on
// WatchChannel, and onConnect after each (re)connection, until ctx ends.
func (s *Store) ListenChanges(ctx context.Context, onConnect, onNotify func(), onError func(error)) {
	s.listenChannel(ctx, WatchChannel, onConnect, func(string) { onNotify() }, onError)
}
