package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func openStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, storetest.NewDatabase(t), 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func spec(n int) store.Spec {
	return store.Spec{
		Region:            "us-east-1",
		Files:             map[string]string{"main.tf": `resource "terraform_data" "a" { input = var.n }`},
		Variables:         map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(n))},
		TTLMinutes:        60,
		MaxMonthlyCostUSD: 25,
	}
}

func TestMigrateFromEmptyThenNoOp(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, storetest.NewDatabase(t), 5)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("fresh database: version %d, %v; want 0", v, err)
	}
	if err := s.Ready(ctx); err == nil {
		t.Fatal("Ready succeeded before migrating")
	}
	// Several processes start at once: all must succeed.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- s.Migrate(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready after migrating: %v", err)
	}
	if _, _, err := s.PutSpec(ctx, store.Key{UserID: "alice", ProjectID: "demo"}, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if _, err := s.GetProject(ctx, store.Key{UserID: "alice", ProjectID: "demo"}); err != nil {
		t.Fatalf("data lost by a re-run of migrations: %v", err)
	}
	if v, dirty, _ := s.SchemaVersion(ctx); v != store.LatestSchemaVersion() || dirty {
		t.Fatalf("version %d dirty=%v, want %d", v, dirty, store.LatestSchemaVersion())
	}
}

func TestPutSpecGenerations(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "alice", ProjectID: "demo"}

	p, res, err := s.PutSpec(ctx, key, spec(1), nil, t0)
	if err != nil || res != store.Created || p.Generation != 1 {
		t.Fatalf("create: %v %v gen %d", res, err, p.Generation)
	}
	if !p.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("expiresAt %v, want creation + ttl", p.ExpiresAt)
	}
	p, res, err = s.PutSpec(ctx, key, spec(1), nil, t0.Add(time.Minute))
	if err != nil || res != store.Unchanged || p.Generation != 1 {
		t.Fatalf("same spec: %v %v gen %d", res, err, p.Generation)
	}
	p, res, err = s.PutSpec(ctx, key, spec(2), nil, t0.Add(time.Minute))
	if err != nil || res != store.Updated || p.Generation != 2 {
		t.Fatalf("changed spec: %v %v gen %d", res, err, p.Generation)
	}
	stale := int64(1)
	if _, _, err := s.PutSpec(ctx, key, spec(3), &stale, t0); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("stale If-Match: %v, want ErrPreconditionFailed", err)
	}
	current := int64(2)
	if p, _, err = s.PutSpec(ctx, key, spec(3), &current, t0); err != nil || p.Generation != 3 {
		t.Fatalf("matching If-Match: %v gen %d", err, p.Generation)
	}
	if _, _, err := s.PutSpec(ctx, store.Key{UserID: "alice", ProjectID: "nope"}, spec(1), &current, t0); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("If-Match on a missing project: %v", err)
	}
	got, err := s.GetProject(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec(3), got.Spec); diff != "" {
		t.Errorf("stored spec (-want +got):\n%s", diff)
	}
}

func TestConcurrentPutsLoseNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "alice", ProjectID: "race"}
	var wg sync.WaitGroup
	changed := make(chan bool, 50)
	for i := range 50 {
		wg.Go(func() {
			_, res, err := s.PutSpec(ctx, key, spec(i), nil, t0)
			if err != nil {
				t.Error(err)
			}
			changed <- res != store.Unchanged
		})
	}
	wg.Wait()
	close(changed)
	writes := 0
	for c := range changed {
		if c {
			writes++
		}
	}
	p, err := s.GetProject(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if p.Generation != 50 || writes != 50 {
		t.Fatalf("generation %d after %d effective writes of 50 distinct specs", p.Generation, writes)
	}
}

func TestDeletionBlocksSpecChanges(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "bob", ProjectID: "gone"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	p, err := s.RequestDeletion(ctx, key, false, t0.Add(time.Minute))
	if err != nil || p.DeletionRequestedAt == nil {
		t.Fatalf("delete: %v %+v", err, p.DeletionRequestedAt)
	}
	again, err := s.RequestDeletion(ctx, key, false, t0.Add(2*time.Minute))
	if err != nil || !again.DeletionRequestedAt.Equal(*p.DeletionRequestedAt) {
		t.Fatalf("repeated delete moved the request time: %v %v", err, again.DeletionRequestedAt)
	}
	if _, _, err := s.PutSpec(ctx, key, spec(2), nil, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("PUT during destruction: %v, want ErrConflict", err)
	}
	if _, err := s.Extend(ctx, key, t0.Add(time.Hour), t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("extend during destruction: %v, want ErrConflict", err)
	}
	if _, err := s.RequestDeletion(ctx, store.Key{UserID: "bob", ProjectID: "never"}, false, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete of a missing project: %v", err)
	}
}

func TestListenDeliversWrites(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openStore(t)
	connected := make(chan struct{}, 1)
	keys := make(chan store.Key, 10)
	go s.Listen(ctx, func() { connected <- struct{}{} }, func(k store.Key) { keys <- k }, nil)
	<-connected
	key := store.Key{UserID: "dave", ProjectID: "x"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-keys:
		if k != key {
			t.Fatalf("notified %v, want %v", k, key)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification for a spec write")
	}
	if _, err := s.RequestDeletion(ctx, key, false, t0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-keys:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification for a deletion request")
	}

	// The listening connection dies: Listen reconnects and says so (the
	// reconciler rescans then), and later writes are delivered again.
	if _, err := s.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("Listen did not reconnect after its connection was killed")
	}
	other := store.Key{UserID: "dave", ProjectID: "y"}
	if _, _, err := s.PutSpec(ctx, other, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-keys:
		if k != other {
			t.Fatalf("notified %v, want %v", k, other)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after reconnecting")
	}
}

func TestListPagination(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for _, k := range []store.Key{{"a", "p1"}, {"a", "p2"}, {"a", "p3"}, {"b", "p1"}} {
		if _, _, err := s.PutSpec(ctx, k, spec(1), nil, t0); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	after := ""
	for {
		page, next, err := s.ListProjects(ctx, store.ListOptions{UserID: "a", Limit: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			got = append(got, p.Key.String())
		}
		if next == "" {
			break
		}
		after = next
	}
	if diff := cmp.Diff([]string{"a/p1", "a/p2", "a/p3"}, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	if _, _, err := s.ListProjects(ctx, store.ListOptions{After: "!!"}); !errors.Is(err, store.ErrInvalidCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}
