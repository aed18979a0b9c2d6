//go:build e2e

package controller

import (
	"context"
	"fmt"
	"sort"
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
