//go:build e2e

package tf

import (
	"fmt"
	"sync"
	"testing"
)

// TestParallelProjects runs ten projects through plan → apply → outputs →
// destroy → delete at the same time, in one database, split over two
// engines that stand for two reconciler replicas (so the cross-process
// path of workspace creation, retries included, is exercised as well as
// the in-process one). Every workspace is created concurrently with other
// creations and other projects' locks: the pg backend's global creation
// lock (hashicorp/terraform#33217) must not make any of them fail, and no
// project may see another's state.
func TestParallelProjects(t *testing.T) {
	t.Parallel()
	db := newTestDatabase(t)
	engines := []*Engine{newTestEngine(t, db), newTestEngine(t, db)}

	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := engines[i%len(engines)]
			p := counterProject(fmt.Sprintf("user%d", i), "proj", 100+i)
			if err := fullCycle(t, e, p, 100+i); err != nil {
				t.Errorf("project %d: %s", i, describe(err))
			}
		}()
	}
	wg.Wait()
}

func fullCycle(t *testing.T, e *Engine, p Project, n int) error {
	ctx := testContext(t)
	plan, err := e.Plan(ctx, p, nil)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if got := counts(plan.Summary); got != [3]int{1, 0, 0} {
		return fmt.Errorf("plan: add/change/destroy = %v, want 1 to add (state of another project?)", got)
	}
	if _, err := e.Apply(ctx, p, plan, nil); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	outs, err := e.Outputs(ctx, p, nil)
	if err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	if outs["n"] != float64(n) {
		return fmt.Errorf("output n = %v, want %d", outs["n"], n)
	}
	res, err := e.StateResources(ctx, p, nil)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if len(res) != 1 || res[0].Address != "terraform_data.counter" {
		return fmt.Errorf("state = %+v, want only terraform_data.counter", res)
	}
	if _, err := e.Destroy(ctx, p, nil); err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	if res, err := e.StateResources(ctx, p, nil); err != nil || len(res) != 0 {
		return fmt.Errorf("state after destroy = %+v, %v; want empty", res, err)
	}
	if err := e.DeleteWorkspace(ctx, p); err != nil {
		return fmt.Errorf("delete workspace: %w", err)
	}
	return nil
}
