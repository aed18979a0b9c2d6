package billing_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
)

// awstest imports kumo, whose services start goroutines when its package
// initialises; they are not the tests' to stop.
func TestMain(m *testing.M) { storetest.Main(m, goleak.IgnoreCurrent()) }

func openStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, storetest.NewMigratedDatabase(t, store.MigrateURL), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
