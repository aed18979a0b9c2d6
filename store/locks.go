package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Project state locks (table project_locks). Every apply, destroy and
// state drop of a project holds its lock row for its whole duration. The
// holder is the lease token of the pass running the operation, so the row
// is renewed with the lease (RenewLease) and expires with it, on the
// database's clock. Unlike terraform's own lock (a session advisory lock of
// the pg backend, gone with the session when the database restarts or
// fails over) the row survives restarts: a new owner can take it only once
// it has expired, and the holder stops its terraform before that (see the
// controller's renew deadline).

// ErrStateLocked: another reconciler holds the project's state lock, or
// runs an operation on its state.
var ErrStateLocked = errors.New("state locked")

// StateLock describes a held project lock.
type StateLock struct {
	Owner      string
	Operation  string
	AcquiredAt time.Time
	ExpiresAt  time.Time
}

// StateLockedError says who holds a project's state.
type StateLockedError struct {
	Key  Key
	Lock StateLock
	// Why, when not the lock row: an open run or terraform's own lock.
	Why string
}

func (e *StateLockedError) Error() string {
	if e.Why != "" {
		return fmt.Sprintf("the state of project %s is in use: %s", e.Key, e.Why)
	}
	return fmt.Sprintf("the state of project %s is locked by reconciler %s (%s since %s) until %s at the latest",
		e.Key, e.Lock.Owner, e.Lock.Operation, e.Lock.AcquiredAt.UTC().Format(time.RFC3339),
		e.Lock.ExpiresAt.UTC().Format(time.RFC3339))
}

func (e *StateLockedError) Unwrap() error { return ErrStateLocked }

// AcquireStateLock takes the project's lock row for the claim token (the
// lease token of the pass), for holdFor on the database's clock. Taking a
// lock the token already holds renews it. It fails with a
// *StateLockedError while another holder's row has not expired, and with
// ErrLeaseLost when the token no longer holds the project's lease.
func (s *Store) AcquireStateLock(ctx context.Context, key Key, token, owner, op string, holdFor time.Duration) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Only the lease holder may lock: the row lock on the project
		// also serialises this with a claim of the project.
		var held bool
		err := tx.QueryRow(ctx, `SELECT lease_token = $3::uuid AND lease_expires_at > now() FROM projects
			WHERE user_id = $1 AND project_id = $2 FOR UPDATE`, key.UserID, key.ProjectID, token).Scan(&held)
		if err != nil && !errors.Is(translate(err), ErrNotFound) {
			return translate(err)
		}
		if !held {
			return ErrLeaseLost
		}
		tag, err := tx.Exec(ctx, `INSERT INTO project_locks (user_id, project_id, holder, owner, operation, acquired_at, expires_at)
			VALUES ($1, $2, $3::uuid, $4, $5, now(), now() + make_interval(secs => $6::float8))
			ON CONFLICT (user_id, project_id) DO UPDATE SET holder = EXCLUDED.holder, owner = EXCLUDED.owner,
				operation = EXCLUDED.operation, expires_at = EXCLUDED.expires_at,
				acquired_at = CASE WHEN project_locks.holder = EXCLUDED.holder THEN project_locks.acquired_at ELSE EXCLUDED.acquired_at END
			WHERE project_locks.holder = EXCLUDED.holder OR project_locks.expires_at < now()`,
			key.UserID, key.ProjectID, token, owner, op, holdFor.Seconds())
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		lock, ok, err := stateLock(ctx, tx, key)
		if err != nil {
			return err
		}
		if !ok { // released meanwhile: the caller retries later
			lock = StateLock{Owner: "(released)", Operation: op}
		}
		return &StateLockedError{Key: key, Lock: lock}
	})
}

// ReleaseStateLock drops the project's lock row if token holds it.
func (s *Store) ReleaseStateLock(ctx context.Context, key Key, token string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM project_locks WHERE user_id = $1 AND project_id = $2 AND holder = $3::uuid`,
		key.UserID, key.ProjectID, token)
	return translate(err)
}

// StateLockHeld returns the project's lock row when one that has not
// expired is held by a holder other than token.
func (s *Store) StateLockHeld(ctx context.Context, key Key, token string) (StateLock, bool, error) {
	var l StateLock
	err := s.pool.QueryRow(ctx, `SELECT owner, operation, acquired_at, expires_at FROM project_locks
		WHERE user_id = $1 AND project_id = $2 AND expires_at >= now() AND holder IS DISTINCT FROM $3::uuid`,
		key.UserID, key.ProjectID, nullUUID(token)).Scan(&l.Owner, &l.Operation, &l.AcquiredAt, &l.ExpiresAt)
	if errors.Is(translate(err), ErrNotFound) {
		return l, false, nil
	}
	return l, err == nil, translate(err)
}

func nullUUID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func stateLock(ctx context.Context, db queryRower, key Key) (StateLock, bool, error) {
	var l StateLock
	err := db.QueryRow(ctx, `SELECT owner, operation, acquired_at, expires_at FROM project_locks
		WHERE user_id = $1 AND project_id = $2`, key.UserID, key.ProjectID).Scan(&l.Owner, &l.Operation, &l.AcquiredAt, &l.ExpiresAt)
	if errors.Is(translate(err), ErrNotFound) {
		return l, false, nil
	}
	return l, err == nil, translate(err)
}

// StateDrop names the state a finalizer removes, and the claim removing it.
type StateDrop struct {
	Schema, Workspace string
	Key               Key
	// Token is the pass's lease token: it must hold the project's lock
	// row (AcquireStateLock).
	Token string
	// UID is the project incarnation whose open runs forbid the drop.
	UID string
}

// DropTerraformState removes a workspace's state once its resources are
// destroyed: the finalizer's step before the row goes. In one transaction
// it checks that the caller holds the project's lock row, that no apply or
// destroy run of the project is open, and takes terraform's own lock of
// the workspace (the pg backend's advisory lock on the state row's id, here
// for the transaction): any of them held elsewhere refuses the drop with a
// *StateLockedError. The lock row goes with the state. Removing a missing
// state succeeds.
func (s *Store) DropTerraformState(ctx context.Context, d StateDrop) error {
	states := pgx.Identifier{d.Schema, "states"}.Sanitize()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var mine bool
		err := tx.QueryRow(ctx, `SELECT holder = $3::uuid AND expires_at > now() FROM project_locks
			WHERE user_id = $1 AND project_id = $2 FOR UPDATE`, d.Key.UserID, d.Key.ProjectID, d.Token).Scan(&mine)
		if err != nil && !errors.Is(translate(err), ErrNotFound) {
			return translate(err)
		}
		if !mine {
			lock, _, err := stateLock(ctx, tx, d.Key)
			if err != nil {
				return err
			}
			if lock.Owner == "" {
				return &StateLockedError{Key: d.Key, Why: "the state lock is not held by the finalizer (it expired)"}
			}
			return &StateLockedError{Key: d.Key, Lock: lock}
		}
		var op string
		var run int64
		err = tx.QueryRow(ctx, `SELECT operation, number FROM runs
			WHERE project_uid = $1::uuid AND finished_at IS NULL AND operation IN ($2, $3) ORDER BY id LIMIT 1`,
			d.UID, OpApply, OpDestroy).Scan(&op, &run)
		if err == nil {
			return &StateLockedError{Key: d.Key, Why: fmt.Sprintf("run %d (%s) has not finished", run, op)}
		}
		if !errors.Is(translate(err), ErrNotFound) {
			return translate(err)
		}
		var table *string
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1)::text`, states).Scan(&table); err != nil {
			return translate(err)
		}
		// A missing backend table is never "no state": it means this
		// database is not the one terraform writes to (NoStateTableError).
		if table == nil {
			return &NoStateTableError{Table: states}
		}
		{
			var locked bool
			err = tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(id) FROM `+states+` WHERE name = $1 FOR UPDATE`, d.Workspace).Scan(&locked)
			switch {
			case errors.Is(translate(err), ErrNotFound): // no state
			case err != nil:
				return translate(err)
			case !locked:
				return &StateLockedError{Key: d.Key, Why: "terraform holds the workspace's state lock"}
			default:
				if _, err := tx.Exec(ctx, `DELETE FROM `+states+` WHERE name = $1`, d.Workspace); err != nil {
					return translate(err)
				}
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM project_locks WHERE user_id = $1 AND project_id = $2`, d.Key.UserID, d.Key.ProjectID)
		return translate(err)
	})
}
