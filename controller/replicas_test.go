package controller

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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

// TestReconcilerKilledMidApply kills a reconciler process (SIGKILL) while
// terraform applies; a second reconciler takes over once the lease expires
// and converges with exactly one resource and no stuck lock.
func TestReconcilerKilledMidApply(t *testing.T) {
	t.Parallel()
	if os.Getenv("TENANTFORM_CHILD_DB") != "" {
		t.Skip("this is the child process")
	}
	h := newRealHarness(t)
	real := terraformBinary(t)
	// The child's terraform applies, then lingers before exiting, so the
	// kill lands after terraform wrote the state but before the reconciler
	// recorded the apply's end: the worst moment for the reconciler's own
	// records. (Resources a provider created but terraform never recorded
	// are the AWS inventory's strays; terraform_data cannot show those.)
	slow := filepath.Join(t.TempDir(), "terraform")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = apply ]; then %s \"$@\"; rc=$?; sleep 30; exit $rc; fi\nexec %s \"$@\"\n", real, real)
	if err := os.WriteFile(slow, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	key := store.Key{UserID: "kim", ProjectID: "crash"}
	if _, _, err := h.st.PutSpec(context.Background(), key, counterSpec(5), nil, time.Now()); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestChildReconciler$", "-test.v")
	child.Env = append(os.Environ(), "TENANTFORM_CHILD_DB="+h.dbURL, "TENANTFORM_CHILD_TF="+slow)
	out := &strings.Builder{}
	child.Stdout, child.Stderr = out, out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	waitFor(t, 2*time.Minute, "the child to start applying", func() bool {
		runs, _ := h.st.ListRuns(context.Background(), key, 10, 0)
		return len(runs) > 0 && runs[0].Operation == store.OpApply && runs[0].FinishedAt == nil && h.stateCount("kim", "crash") == 1
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	startReconciler(t, h.st, h.dbURL, "survivor", real, 3*time.Second)
	waitFor(t, 2*time.Minute, "the survivor to converge", func() bool {
		p, err := h.st.GetProject(context.Background(), key)
		return err == nil && p.Status.Phase == store.PhaseReady
	})
	if n := h.stateCount("kim", "crash"); n != 1 {
		t.Fatalf("%d terraform_data in state, want exactly 1", n)
	}
	runs, _ := h.st.ListRuns(context.Background(), key, 100, 0)
	var abandoned bool
	for _, r := range runs {
		if r.FinishedAt == nil {
			t.Fatalf("run %d (%s) left unfinished", r.ID, r.Operation)
		}
		if r.Owner == "child" && r.Operation == store.OpApply && strings.Contains(r.Error, "stopped during this apply") {
			abandoned = true
		}
	}
	if !abandoned {
		t.Fatalf("the killed apply was not recorded as interrupted: %+v", runs)
	}
	// No stuck lock: a fresh plan of the project runs and finds nothing to do.
	tfp, err := tfProject(h.get("kim", "crash"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := h.engine.Plan(context.Background(), tfp, nil)
	if err != nil {
		t.Fatalf("plan after takeover: %v", err)
	}
	if plan.Summary.HasChanges() {
		t.Fatalf("converged project still has changes: %+v", plan.Summary)
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
