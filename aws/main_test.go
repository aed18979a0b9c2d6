package aws_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// kumo's services start goroutines when its package initialises; they are
// not the tests' to stop.
func TestMain(m *testing.M) { storetest.Main(m, goleak.IgnoreCurrent()) }

func openStore(t *testing.T) *store.Store {
	s, _ := openStoreURL(t)
	return s
}

// openStoreURL is openStore, with the database's URL.
func openStoreURL(t *testing.T) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	dbURL := storetest.NewMigratedDatabase(t, store.MigrateURL)
	s, err := store.Open(ctx, dbURL, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// As a reconciler starts: terraform's state table exists (the sweep
	// reads it before deleting anything).
	if err := s.CheckStateDatabase(ctx, dbURL, tf.DefaultPGSchema); err != nil {
		t.Fatal(err)
	}
	return s, dbURL
}
