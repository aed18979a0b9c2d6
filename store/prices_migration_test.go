package store

import (
	"context"
	"slices"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/tenantform/tenantform/store/storetest"
)

// TestPricesMigrationGoesDownAndUp: 000006's down removes exactly its
// tables, and up brings them back.
func TestPricesMigrationGoesDownAndUp(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, storetest.NewDatabase(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*s.pool.Config().ConnConfig)
	driver, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	tables := func() map[string]bool {
		t.Helper()
		got := map[string]bool{}
		for _, name := range []string{"aws_prices", "project_actual_costs", "billing_refreshes", "aws_inventory"} {
			var exists bool
			if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
				t.Fatal(err)
			}
			got[name] = exists
		}
		return got
	}
	// 000014 down brings back the triggers it replaced, and only them.
	triggers := func() []string {
		t.Helper()
		var names []string
		if err := s.pool.QueryRow(ctx, `SELECT coalesce(array_agg(tgname::text ORDER BY tgname), '{}') FROM pg_trigger
			WHERE tgrelid = 'projects'::regclass AND NOT tgisinternal`).Scan(&names); err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got, want := triggers(), []string{"projects_changed", "projects_inserted", "projects_lock_key"}; !slices.Equal(got, want) {
		t.Errorf("at the newest version, the triggers of projects are %q, want %q", got, want)
	}
	if err := m.Migrate(13); err != nil {
		t.Fatalf("down to 13: %v", err)
	}
	if got, want := triggers(), []string{"projects_lock_key", "projects_notify", "projects_watch_insert", "projects_watch_version"}; !slices.Equal(got, want) {
		t.Errorf("after 000014 down, the triggers of projects are %q, want %q", got, want)
	}
	if err := m.Migrate(5); err != nil {
		t.Fatalf("down to 5: %v", err)
	}
	if got := tables(); got["aws_prices"] || got["project_actual_costs"] || got["billing_refreshes"] || !got["aws_inventory"] {
		t.Errorf("after 000006 down: %v; want only its tables gone", got)
	}
	if err := m.Up(); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if got := tables(); !got["aws_prices"] || !got["project_actual_costs"] || !got["billing_refreshes"] {
		t.Errorf("after up: %v; want every table back", got)
	}
}
