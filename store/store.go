// Package store owns tenantform's PostgreSQL database: the connection pool,
// the embedded schema migrations and every query. It is the only package
// that speaks SQL; driver errors are translated here into the errors below.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// ErrNotFound: no such project, run or row.
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed: an If-Match generation did not match.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrConflict: the request conflicts with the project's state (for
	// example a spec change while the project is being destroyed).
	ErrConflict = errors.New("conflict")
	// ErrLeaseLost: this reconciler no longer holds the project's lease.
	ErrLeaseLost = errors.New("lease lost")
	// ErrGone: the project was deleted or expired; a *GoneError carries
	// its tombstone.
	ErrGone = errors.New("gone")
)

// Tombstone is what remains of a deleted or expired project for the run
// retention: its final status and why it went.
type Tombstone struct {
	UserID     string    `json:"userId"`
	ProjectID  string    `json:"projectId"`
	UID        string    `json:"-"`
	Generation int64     `json:"generation"`
	Status     Status    `json:"status"`
	Reason     string    `json:"reason"`
	DeletedAt  time.Time `json:"deletedAt"`
}

// GoneError reports a project that no longer exists but whose tombstone
// does.
type GoneError struct{ Tombstone Tombstone }

func (e *GoneError) Error() string {
	return fmt.Sprintf("project %s/%s was destroyed and removed at %s (%s)", e.Tombstone.UserID, e.Tombstone.ProjectID,
		e.Tombstone.DeletedAt.Format(time.RFC3339), e.Tombstone.Reason)
}

// Is makes errors.Is(err, ErrGone) true.
func (e *GoneError) Is(target error) bool { return target == ErrGone }

// NotifyChannel is the LISTEN/NOTIFY channel on which every client write to
// a project is announced, with payload "user_id/project_id".
const NotifyChannel = "tenantform_projects"

// Store is a handle on the database. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	url  string
}

// Open connects to the database at url. It does not migrate; call Migrate.
func Open(ctx context.Context, url string, maxConns int32) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse error can echo the URL, password included.
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL connection string")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach the database at %s: %w", redactURL(url), err)
	}
	return &Store{pool: pool, url: url}, nil
}

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

// Ready reports whether the database answers and its schema is current.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	v, dirty, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if dirty || v != LatestSchemaVersion() {
		return fmt.Errorf("schema at version %d (dirty=%v), want %d", v, dirty, LatestSchemaVersion())
	}
	return nil
}

// translate maps driver errors to the package's errors, once, here.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "40001", "40P01": // unique violation, serialization failure, deadlock
			return fmt.Errorf("%w: %s", ErrConflict, pgErr.Message)
		}
	}
	return err
}

// micro truncates to PostgreSQL's timestamp precision so that what is
// written compares equal to what is read back.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
