//go:build e2e

package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/pgbouncertest"
	"github.com/tenantform/tenantform/store/storetest"
)

// TestConvergesThroughTransactionPooler runs the reconciler the way Heroku's
// connection pooler serves it: every store call through a real PgBouncer in
// transaction mode (several server connections, so one client's
// transactions land on different ones), no prepared statements, and
// PollInterval instead of LISTEN. Projects written after it started
// converge, a spec change is picked up, and PostgreSQL never sees a LISTEN
// from it. The control at the end shows the LISTEN check can fail.
func TestConvergesThroughTransactionPooler(t *testing.T) {
	ctx := context.Background()
	direct := storetest.NewDatabase(t)
	migrator, err := store.Open(ctx, direct, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrator.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	migrator.Close()

	pooledURL, err := store.ForTransactionPooling(pgbouncertest.Start(t, direct, pgbouncertest.Options{PoolSize: 3}))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, pooledURL, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Terraform's state (the fake's, kept where the pg backend keeps it)
	// goes over the direct connection, as TF_STATE_DATABASE_URL /
	// DATABASE_DIRECT_URL make the real one do.
	fake := newFakeTerraform(t, direct)
	cfg := Config{Owner: "pooled", Logger: zaptest.NewLogger(t), Concurrency: 3, PollInterval: 50 * time.Millisecond,
		LeaseDuration: time.Minute, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}
	stop := runController(t, New(cfg, st, fake))

	keys := []store.Key{{UserID: "alice", ProjectID: "one"}, {UserID: "alice", ProjectID: "two"}, {UserID: "bob", ProjectID: "web"}}
	for i, k := range keys {
		if _, _, err := st.PutSpec(ctx, k, counterSpec(i), nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, st, keys, 1)
	if _, _, err := st.PutSpec(ctx, keys[0], counterSpec(42), nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, st, keys[:1], 2)

	if n := listeners(t, direct); n != 0 {
		t.Errorf("%d connections ran LISTEN with PollInterval set", n)
	}
	stop()

	// Control: the same reconciler without PollInterval holds a LISTEN.
	cfg.PollInterval = 0
	directStore, err := store.Open(ctx, direct, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer directStore.Close()
	stop = runController(t, New(cfg, directStore, fake))
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for listeners(t, direct) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the control reconciler's LISTEN never showed in pg_stat_activity: the check above proves nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runController runs c until the returned stop is called (or the test ends).
func runController(t *testing.T, c *Controller) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitConverged waits until every key is Ready at generation gen.
func waitConverged(t *testing.T, st *store.Store, keys []store.Key, gen int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, k := range keys {
		for {
			p, err := st.GetProject(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status.Phase == store.PhaseReady && p.Status.ObservedGeneration == gen {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is %s at observed generation %d (want Ready at %d): %s %s", k, p.Status.Phase,
					p.Status.ObservedGeneration, gen, p.Status.Message, p.Status.LastError)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// listeners counts the database's connections whose last statement was a
// LISTEN.
func listeners(t *testing.T, direct string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), direct)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query ILIKE 'listen %'`).Scan(&n); err != nil {
		t.Fatal(fmt.Errorf("pg_stat_activity: %w", err))
	}
	return n
}
