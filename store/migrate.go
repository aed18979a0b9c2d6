package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// LatestSchemaVersion is the version of the newest embedded migration.
func LatestSchemaVersion() uint {
	entries, _ := fs.ReadDir(migrations, "migrations")
	var versions []int
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0]); err == nil {
			versions = append(versions, n)
		}
	}
	sort.Ints(versions)
	if len(versions) == 0 {
		return 0
	}
	return uint(versions[len(versions)-1])
}

// Migrate brings the schema to the newest version. Several processes may
// call it at once: golang-migrate holds a PostgreSQL advisory lock while it
// works, so one migrates and the others find nothing left to do.
func (s *Store) Migrate(ctx context.Context) error {
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return err
	}
	// A connection of its own: the migration holds it (and the advisory
	// lock) for its whole run, and must not starve the pool.
	db := stdlib.OpenDB(*s.pool.Config().ConnConfig)
	driver, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		db.Close()
		return fmt.Errorf("cannot prepare migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		driver.Close()
		return fmt.Errorf("cannot prepare migrations: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("cannot migrate the database schema: %w", err)
	}
	return nil
}

// SchemaVersion returns the applied migration version (0 before any).
func (s *Store) SchemaVersion(ctx context.Context) (version uint, dirty bool, err error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, false, err
	}
	if !exists {
		return 0, false, nil
	}
	var v int64
	err = s.pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&v, &dirty)
	if err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return 0, false, nil
		}
		return 0, false, err
	}
	return uint(v), dirty, nil
}

// MigrateURL brings the database at url to the newest schema and closes
// every connection it opened (test helpers copy the result as a template,
// which PostgreSQL allows only with nobody connected).
func MigrateURL(ctx context.Context, url string) error {
	s, err := Open(ctx, url, 2)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Migrate(ctx)
}
