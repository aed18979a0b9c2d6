package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/pgbouncertest"
	"github.com/tenantform/tenantform/store/storetest"
)

func TestForTransactionPooling(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://app:pw@pooler:6432/app?sslmode=require":                       "postgres://app:pw@pooler:6432/app?default_query_exec_mode=cache_describe&sslmode=require",
		"postgres://app@pooler/app?default_query_exec_mode=simple_protocol":       "postgres://app@pooler/app?default_query_exec_mode=simple_protocol",
		"host=pooler port=6432 user=app dbname=app":                               "host=pooler port=6432 user=app dbname=app default_query_exec_mode=cache_describe",
		"host=pooler user=app dbname=app default_query_exec_mode=simple_protocol": "host=pooler user=app dbname=app default_query_exec_mode=simple_protocol",
	} {
		got, err := store.ForTransactionPooling(in)
		if err != nil || got != want {
			t.Errorf("ForTransactionPooling(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := store.ForTransactionPooling("postgres://u:hunter2@db:port/x"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad connection string gave %v", err)
	}
}

// TestPreparedStatementsBehindTransactionPooler shows, against a real
// PgBouncer in transaction mode, why the store changes pgx's execution mode
// there: a statement pgx prepared on one server connection is run later on
// another. The sequence is arranged so that this happens every time.
func TestPreparedStatementsBehindTransactionPooler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pooled := pgbouncertest.Start(t, storetest.NewDatabase(t), pgbouncertest.Options{PoolSize: 2})
	tuned, err := store.ForTransactionPooling(pooled)
	if err != nil {
		t.Fatal(err)
	}
	connect := func(url string) *pgx.Conn {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}
	for _, tc := range []struct {
		name   string
		url    string
		broken bool
	}{{"pgx's default", pooled, true}, {"ForTransactionPooling", tuned, false}} {
		a, b, c := connect(pooled), connect(tc.url), connect(pooled)
		const q = `SELECT $1::jsonb ->> 'n'`
		// a holds one of the two server connections, so b runs (and
		// prepares) on the other; c then holds that one, a lets its go,
		// and b's next run lands where its statement was never prepared.
		txA, err := a.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		txA.Exec(ctx, "SELECT 1")
		var got string
		if err := b.QueryRow(ctx, q, []byte(`{"n":"1"}`)).Scan(&got); err != nil || got != "1" {
			t.Fatalf("%s: first run: %q, %v", tc.name, got, err)
		}
		txC, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		txC.Exec(ctx, "SELECT 1")
		txA.Commit(ctx)
		err = b.QueryRow(ctx, q, []byte(`{"n":"2"}`)).Scan(&got)
		txC.Commit(ctx)
		switch {
		case tc.broken && (err == nil || !strings.Contains(err.Error(), "prepared statement")):
			t.Errorf("%s: the second run on another server connection gave %q, %v; want the prepared statement missing (is the pooler in transaction mode?)", tc.name, got, err)
		case !tc.broken && (err != nil || got != "2"):
			t.Errorf("%s: second run: %q, %v", tc.name, got, err)
		}
	}
}

// TestStoreThroughTransactionPooler: the API's side of the store (specs,
// lists, quota, usage, deletion, the inventory, metrics) works through
// PgBouncer in transaction mode with several server connections. The
// reconciler's side is controller's TestConvergesThroughTransactionPooler.
func TestStoreThroughTransactionPooler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct := storetest.NewDatabase(t)
	m, err := store.Open(ctx, direct, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	url, err := store.ForTransactionPooling(pgbouncertest.Start(t, direct, pgbouncertest.Options{PoolSize: 3}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, url, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	if err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 6)
	for i := range 6 {
		go func() {
			_, _, err := s.PutSpec(ctx, store.Key{UserID: "alice", ProjectID: "p" + string(rune('a'+i))}, spec(i), nil, t0)
			errs <- err
		}()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	projects, _, err := s.ListProjects(ctx, store.ListOptions{UserID: "alice"})
	if err != nil || len(projects) != 6 {
		t.Fatalf("ListProjects: %d, %v", len(projects), err)
	}
	// The API's PUT (a batch: the quota override and the guarded write)
	// and GET (one statement), changed then unchanged.
	pb := store.Key{UserID: "alice", ProjectID: "pb"}
	for _, want := range []store.PutResult{store.Updated, store.Unchanged} {
		if _, res, o, err := s.PutSpecUnlessCostOverride(ctx, pb, spec(10), nil, t0, 0); err != nil || o != nil || res != want {
			t.Fatalf("PutSpecUnlessCostOverride: %v %+v %v, want %v", res, o, err, want)
		}
	}
	if p, _, err := s.GetProjectWithActualCost(ctx, pb, "chart-app-alice-pb"); err != nil || p.Generation != 2 {
		t.Fatalf("GetProjectWithActualCost: gen %d, %v", p.Generation, err)
	}
	n := 3
	if err := s.SetQuotaOverride(ctx, "alice", store.QuotaOverride{MaxResources: &n}, t0); err != nil {
		t.Fatal(err)
	}
	if o, err := s.GetQuotaOverride(ctx, "alice"); err != nil || o.MaxResources == nil || *o.MaxResources != 3 {
		t.Fatalf("GetQuotaOverride: %+v, %v", o, err)
	}
	if u, err := s.UserUsage(ctx, "alice", ""); err != nil || u.Projects != 6 {
		t.Fatalf("UserUsage: %+v, %v", u, err)
	}
	key := store.Key{UserID: "alice", ProjectID: "pa"}
	if _, err := s.Extend(ctx, key, t0.Add(2*time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestDeletion(ctx, key, false, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplaceInventory(ctx, "us-east-1", []store.InventoryItem{{ARN: "arn:aws:s3:::b", Type: "s3:bucket",
		Region: "us-east-1", Tags: map[string]string{"ManagedBy": "chart-app-platform"}}}); err != nil {
		t.Fatal(err)
	}
	if inv, err := s.Inventory(ctx); err != nil || len(inv.Items) != 1 {
		t.Fatalf("Inventory: %+v, %v", inv, err)
	}
	if _, err := s.MetricsSnapshot(ctx, 100, 10, time.Time{}); err != nil {
		t.Fatal(err)
	}
}
