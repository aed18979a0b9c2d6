//go:build e2e

package controller

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/localpg"
	"github.com/tenantform/tenantform/tf"
)

// TestDatabaseOutageMidReconcile stops PostgreSQL while a running
// reconciler is planning, and starts it again: every project converges
// within 10 s of the database's return. The lease is long (30 s) on
// purpose: a reconciler takes back its own stale leases at once instead of
// waiting for them to expire.
func TestDatabaseOutageMidReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Not t.TempDir: as root, PostgreSQL runs as another user, who must be
	// able to enter the directory.
	dir, err := os.MkdirTemp("", "tenantform-outage-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	var srv *localpg.Server
	srv, err = localpg.Start(ctx, localpg.Options{DataDir: dir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	st, err := store.Open(ctx, srv.URL, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fake := newFakeTerraform(t, srv.URL)
	planning := make(chan struct{}, 100)
	fake.planHook = func(ctx context.Context, p tf.Project) error {
		planning <- struct{}{}
		select { // long enough for the outage to land mid-plan
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	}
	c := New(Config{Owner: "outage", Concurrency: 2, LeaseDuration: 30 * time.Second,
		BackoffBase: 200 * time.Millisecond, BackoffMax: time.Second, Logger: zaptest.NewLogger(t)}, st, fake)
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { c.Run(runCtx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })

	const n = 6
	for i := 0; i < n; i++ {
		if _, _, err := st.PutSpec(ctx, store.Key{UserID: fmt.Sprintf("u%d", i%3), ProjectID: fmt.Sprintf("p%d", i)}, oneResource(), nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	<-planning
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // the outage
	again, err := localpg.Start(ctx, localpg.Options{DataDir: dir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Stop() })
	if again.URL != srv.URL {
		t.Skipf("the server came back on another address (%s); this test needs the same one", again.URL)
	}
	back := time.Now()
	waitFor(t, 10*time.Second, "every project to converge after the outage", func() bool {
		ready := 0
		for i := 0; i < n; i++ {
			p, err := st.GetProject(ctx, store.Key{UserID: fmt.Sprintf("u%d", i%3), ProjectID: fmt.Sprintf("p%d", i)})
			if err == nil && p.Status.Phase == store.PhaseReady && p.LeaseToken == "" {
				ready++
			}
		}
		return ready == n
	})
	t.Logf("converged %s after the database came back", time.Since(back).Round(100*time.Millisecond))
}
