package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// TestMarkOrphansRemembersTheFirstOrphanedListing: the mark is the
// listing that first showed the resource orphaned; it survives later
// listings, and starts again when the tags change or the resource has an
// owner again.
func TestMarkOrphansRemembersTheFirstOrphanedListing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	tags := map[string]string{"ManagedBy": "chart-app-platform", "UserId": "carol", "ProjectId": "old", "CreatedAt": "2026-11-30T11:00:00Z"}
	b := store.InventoryItem{ARN: "arn:aws:s3:::b", Type: "s3:bucket", Region: "us-east-1", Tags: tags}
	list := func() time.Time {
		t.Helper()
		at, err := s.ReplaceInventory(ctx, "us-east-1", []store.InventoryItem{b})
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	mark := func(arns ...string) store.OrphanMark {
		t.Helper()
		m, err := s.MarkOrphans(ctx, arns)
		if err != nil {
			t.Fatal(err)
		}
		return m[b.ARN]
	}
	first := list()
	if got := mark(b.ARN); !got.ListedAt.Equal(first) || !got.LastSeen.Equal(first) {
		t.Fatalf("first mark %+v; want both at the listing %v", got, first)
	}
	second := list()
	if got := mark(b.ARN); !got.ListedAt.Equal(first) || !got.LastSeen.Equal(second) {
		t.Fatalf("after a second listing %+v; want %v and %v", got, first, second)
	}
	// Re-tagged (a new incarnation's CreatedAt): the wait starts again.
	b.Tags = map[string]string{"ManagedBy": "chart-app-platform", "UserId": "carol", "ProjectId": "old", "CreatedAt": "2026-12-01T09:00:00Z"}
	third := list()
	if got := mark(b.ARN); !got.ListedAt.Equal(third) {
		t.Fatalf("after a tag change %+v; want the mark at %v", got, third)
	}
	// A sweep that finds it owned forgets the mark.
	if got := mark(); got != (store.OrphanMark{}) {
		t.Fatalf("not an orphan, yet marked %+v", got)
	}
	fourth := list()
	if got := mark(b.ARN); !got.ListedAt.Equal(fourth) {
		t.Fatalf("orphaned again %+v; want the mark at %v", got, fourth)
	}
}

// TestSweepOrphanHoldsOffTheProjectsCreation: while the sweep deletes an
// orphan of a project that has no row, creating that project waits; a
// sweep that comes after the creation sees the row.
func TestSweepOrphanHoldsOffTheProjectsCreation(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	key := store.Key{UserID: "alice", ProjectID: "demo"}
	created := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	spec := store.Spec{Region: "us-east-1", Files: map[string]string{"main.tf": ""}, TTLMinutes: 60, MaxMonthlyCostUSD: 10}

	createStateTable(t, s)
	putDone := make(chan error, 1)
	var sawRow bool
	err := s.SweepOrphan(ctx, key, tf.DefaultPGSchema, "alice_demo", func(row *store.OwnerRow, _ []byte) bool {
		sawRow = row != nil
		return row == nil
	}, func(ctx context.Context) error {
		go func() {
			_, _, err := s.PutSpec(context.Background(), key, spec, nil, created)
			putDone <- err
		}()
		// Wait until the creation is blocked on the project's lock (no
		// sleep: the server says so), then check it has not returned.
		for {
			var waiting bool
			if err := s.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)`).Scan(&waiting); err != nil {
				return err
			}
			if waiting {
				break
			}
			select {
			case err := <-putDone:
				return errors.New("the project was created while its orphan was being deleted (PutSpec returned " + errString(err) + ")")
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
		}
		select {
		case err := <-putDone:
			return errors.New("the project was created while its orphan was being deleted (PutSpec returned " + errString(err) + ")")
		default:
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sawRow {
		t.Fatal("saw a project row before the project was created")
	}
	if err := <-putDone; err != nil {
		t.Fatalf("the creation, once the sweep was over: %v", err)
	}
	var owner *store.OwnerRow
	if err := s.SweepOrphan(ctx, key, tf.DefaultPGSchema, "alice_demo", func(row *store.OwnerRow, _ []byte) bool { owner = row; return false }, nil); err != nil {
		t.Fatal(err)
	}
	if owner == nil || !owner.CreatedAt.Equal(created) || owner.Leased || owner.Deleting {
		t.Fatalf("row after the creation %+v; want created at %v, not leased, not deleting", owner, created)
	}
}

// TestSweepOrphanReadsTheProjectsState: decide sees the workspace's
// state; without the backend's table nothing is decided.
func TestSweepOrphanReadsTheProjectsState(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	key := store.Key{UserID: "alice", ProjectID: "demo"}
	never := func(*store.OwnerRow, []byte) bool { t.Fatal("decided without the state table"); return false }
	var noTable *store.NoStateTableError
	if err := s.SweepOrphan(ctx, key, tf.DefaultPGSchema, "alice_demo", never, nil); !errors.As(err, &noTable) {
		t.Fatalf("SweepOrphan without a states table = %v; want a NoStateTableError", err)
	}
	createStateTable(t, s)
	if _, err := s.Pool().Exec(ctx, `INSERT INTO `+tf.DefaultPGSchema+`.states (name, data) VALUES ('alice_demo', 'the state')`); err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := s.SweepOrphan(ctx, key, tf.DefaultPGSchema, "alice_demo", func(_ *store.OwnerRow, state []byte) bool { got = state; return false }, nil); err != nil {
		t.Fatal(err)
	}
	if string(got) != "the state" {
		t.Fatalf("state %q", got)
	}
}

// createStateTable makes the pg backend's table, as a reconciler's start
// (CheckStateDatabase) or terraform's init does.
func createStateTable(t *testing.T, s *store.Store) {
	t.Helper()
	if _, err := s.Pool().Exec(context.Background(), `CREATE SCHEMA IF NOT EXISTS `+tf.DefaultPGSchema+`;
		CREATE TABLE IF NOT EXISTS `+tf.DefaultPGSchema+`.states (id bigserial PRIMARY KEY, name text UNIQUE, data text)`); err != nil {
		t.Fatal(err)
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
