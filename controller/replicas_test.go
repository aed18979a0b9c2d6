package controller

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// startReconciler runs a real controller (real clock) until the test ends.
func startReconciler(t *testing.T, st *store.Store, dbURL, owner, binary string, lease time.Duration) {
	t.Helper()
	engine, err := tf.New(tf.Config{BinaryPath: binary, WorkRoot: t.TempDir(), PGConnStr: dbURL,
		Environment: "test", StopGrace: 5 * time.Second, LockTimeout: time.Minute, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Owner: owner, Concurrency: 2, LeaseDuration: lease, Logger: zaptest.NewLogger(t),
		BackoffBase: time.Second, BackoffMax: 5 * time.Second}, st, engine)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func openTestStore(t *testing.T, dbURL string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dbURL, 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChildReconciler is the reconciler process TestReconcilerKilledMidApply
// kills; it does nothing when run on its own.
func TestChildReconciler(t *testing.T) {
	dbURL := os.Getenv("TENANTFORM_CHILD_DB")
	if dbURL == "" {
		t.Skip("run by TestReconcilerKilledMidApply")
	}
	st, err := store.Open(context.Background(), dbURL, 5)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		startReconciler(t, st, dbURL, "child", os.Getenv("TENANTFORM_CHILD_TF"), 3*time.Second)
	})
	wg.Wait()
	time.Sleep(5 * time.Minute) // until killed
}
