//go:build e2e

package controller

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

func TestTwoReconcilersFiftyProjects(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("applies 50 projects")
	}
	h := newRealHarness(t)
	bin := terraformBinary(t)
	const projects = 50
	startReconciler(t, h.st, h.dbURL, "replica-a", bin, 30*time.Second)
	startReconciler(t, h.st, h.dbURL, "replica-b", bin, 30*time.Second)
	for i := range projects {
		spec := counterSpec(i)
		spec.TTLMinutes = 24 * 60
		if _, _, err := h.st.PutSpec(context.Background(), store.Key{UserID: fmt.Sprintf("u%d", i%5), ProjectID: fmt.Sprintf("p%d", i)}, spec, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	waitFor(t, 8*time.Minute, "every project Ready", func() bool {
		ready, _, err := h.st.ListProjects(ctx, store.ListOptions{Phase: store.PhaseReady, Limit: 500})
		return err == nil && len(ready) == projects
	})

	owners := map[string]int{}
	for i := range projects {
		key := store.Key{UserID: fmt.Sprintf("u%d", i%5), ProjectID: fmt.Sprintf("p%d", i)}
		runs, err := h.st.ListRuns(ctx, key, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		applies := 0
		for _, r := range runs {
			if r.FinishedAt == nil {
				t.Fatalf("%s: run %d never finished", key, r.ID)
			}
			if r.Operation == store.OpApply {
				applies++
				owners[r.Owner]++
			}
		}
		if applies != 1 {
			t.Errorf("%s applied %d times, want exactly once", key, applies)
		}
		// No two runs of one project overlap in time.
		sort.Slice(runs, func(a, b int) bool { return runs[a].StartedAt.Before(runs[b].StartedAt) })
		for j := 1; j < len(runs); j++ {
			if runs[j].StartedAt.Before(*runs[j-1].FinishedAt) {
				t.Errorf("%s: run %d (%s, %s) started before run %d (%s) finished", key,
					runs[j].ID, runs[j].Owner, runs[j].StartedAt, runs[j-1].ID, runs[j-1].Owner)
			}
		}
	}
	t.Logf("applies per replica: %v", owners)
	if len(owners) != 2 {
		t.Errorf("one replica did all the work: %v", owners)
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
