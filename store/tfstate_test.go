package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// TestMismatchedStateURLIsRefusedAndNeverReadAsNoState is the review's
// finding: TF_STATE_DATABASE_URL named another database, terraform kept
// its state there, and the reconciler, reading DATABASE_URL's database,
// found no states table and took that for "no state": every DELETE
// skipped its destroy and leaked everything.
func TestMismatchedStateURLIsRefusedAndNeverReadAsNoState(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	other := storetest.NewDatabase(t)
	// Terraform (through the other URL) keeps a project's state there.
	elsewhere, err := store.Open(ctx, other, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer elsewhere.Close()
	if err := elsewhere.CheckStateDatabase(ctx, other, tf.DefaultPGSchema); err != nil {
		t.Fatal(err)
	}
	if _, err := elsewhere.Pool().Exec(ctx, `INSERT INTO `+tf.DefaultPGSchema+`.states (name, data) VALUES ('alice_demo', '{"resources":[]}')`); err != nil {
		t.Fatal(err)
	}

	// Read through DATABASE_URL, the missing table is an error, not "no state".
	data, exists, err := s.TerraformState(ctx, tf.DefaultPGSchema, "alice_demo")
	var noTable *store.NoStateTableError
	if !errors.As(err, &noTable) || exists || data != nil {
		t.Fatalf("TerraformState = %q, %v, %v; want a NoStateTableError", data, exists, err)
	}
	// The finalizer's fenced drop, by the holder of the state lock, too.
	key := store.Key{UserID: "alice", ProjectID: "demo"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	p, ok := claim(t, s, "r1", t0)
	if !ok {
		t.Fatal("nothing to claim")
	}
	if err := s.AcquireStateLock(ctx, key, p.LeaseToken, "r1", store.OpDestroy, time.Minute); err != nil {
		t.Fatal(err)
	}
	drop := store.StateDrop{Schema: tf.DefaultPGSchema, Workspace: "alice_demo", Key: key, Token: p.LeaseToken, UID: p.UID}
	if err := s.DropTerraformState(ctx, drop); !errors.As(err, &noTable) {
		t.Fatalf("DropTerraformState = %v; want a NoStateTableError", err)
	}

	// And the reconciler refuses to start with those two URLs.
	err = s.CheckStateDatabase(ctx, other, tf.DefaultPGSchema)
	if err == nil || !strings.Contains(err.Error(), "TF_STATE_DATABASE_URL reaches another database") {
		t.Fatalf("CheckStateDatabase with another database: %v", err)
	}
}

// TestStateURLOfTheSameDatabaseIsAccepted: the same database, through the
// same URL or through another role (the README's advice), passes; a new
// deployment gets the backend's table, so that from then on no state is a
// missing row, never a missing table.
func TestStateURLOfTheSameDatabaseIsAccepted(t *testing.T) {
	ctx := context.Background()
	dbURL := storetest.NewDatabase(t)
	s, err := store.Open(ctx, dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	role := fmt.Sprintf("tfstate_%d", time.Now().UnixNano()%1_000_000)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN PASSWORD 'pw'`,
		`GRANT CREATE ON DATABASE ` + db + ` TO ` + role,
		`GRANT CREATE ON SCHEMA public TO ` + role,
	} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		s.Pool().Exec(context.Background(), `DROP OWNED BY `+role)
		s.Pool().Exec(context.Background(), `DROP ROLE `+role)
	})
	u.User = url.UserPassword(role, "pw")

	for _, stateURL := range []string{u.String(), dbURL} {
		if err := s.CheckStateDatabase(ctx, stateURL, tf.DefaultPGSchema); err != nil {
			t.Fatalf("CheckStateDatabase(%s): %v", u.Redacted(), err)
		}
	}
	data, exists, err := s.TerraformState(ctx, tf.DefaultPGSchema, "alice_demo")
	if err != nil || exists || data != nil {
		t.Fatalf("TerraformState of a workspace terraform never wrote = %q, %v, %v; want no state", data, exists, err)
	}
}
