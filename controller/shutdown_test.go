//go:build e2e

package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// TestShutdownInterruptsAndHandsBack stops a reconciler while terraform
// applies and the apply outlasts the grace period: terraform is
// interrupted, the lease is handed back at once (no waiting for expiry),
// and the next reconciler converges the project.
func TestShutdownInterruptsAndHandsBack(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t)
	real := terraformBinary(t)
	slow := filepath.Join(t.TempDir(), "terraform")
	// The wrapper stands for a long apply that, like terraform, stops on
	// SIGINT (and does not leave a child holding its output open).
	script := fmt.Sprintf(`#!/bin/sh
if [ "$1" = apply ]; then
  sleep 30 & pid=$!
  trap 'kill $pid; exit 130' INT
  wait $pid
fi
exec %s "$@"
`, real)
	if err := os.WriteFile(slow, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	engine, err := tf.New(tf.Config{BinaryPath: slow, WorkRoot: t.TempDir(), PGConnStr: h.dbURL,
		Environment: "test", StopGrace: time.Second, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Owner: "stopping", LeaseDuration: time.Hour, ShutdownGrace: 500 * time.Millisecond,
		Logger: zaptest.NewLogger(t)}, h.st, engine)
	key := store.Key{UserID: "lena", ProjectID: "stop"}
	if _, _, err := h.st.PutSpec(context.Background(), key, counterSpec(3), nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { c.Run(ctx); close(stopped) }()
	waitFor(t, time.Minute, "the apply to start", func() bool {
		runs, _ := h.st.ListRuns(context.Background(), key, 10, 0)
		return len(runs) > 0 && runs[0].Operation == store.OpApply
	})
	stopAt := time.Now()
	cancel()
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("reconciler did not stop within grace + terraform's stop window")
	}
	t.Logf("stopped %v after the stop request", time.Since(stopAt).Round(time.Millisecond))

	p := h.get("lena", "stop")
	if p.LeaseOwner != "" {
		t.Fatalf("lease still held by %q after shutdown", p.LeaseOwner)
	}
	runs, _ := h.st.ListRuns(context.Background(), key, 10, 0)
	if runs[0].FinishedAt == nil || runs[0].Outcome != store.OutcomeFailed {
		t.Fatalf("interrupted apply recorded as %s (finished %v)", runs[0].Outcome, runs[0].FinishedAt)
	}

	// Handed back due now: the next reconciler (lease of an hour would
	// otherwise block it) converges the project.
	startReconciler(t, h.st, h.dbURL, "next", real, time.Minute)
	waitFor(t, time.Minute, "the next reconciler to converge", func() bool {
		p, err := h.st.GetProject(context.Background(), key)
		return err == nil && p.Status.Phase == store.PhaseReady
	})
	if n := h.stateCount("lena", "stop"); n != 1 {
		t.Fatalf("%d resources in state, want 1", n)
	}
}
