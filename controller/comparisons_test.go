package controller

import (
	"sync"
	"testing"
	"time"

	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// comparisonCounter records ObserveInventoryComparison and ignores the
// other hooks.
type comparisonCounter struct {
	noMetrics
	mu     sync.Mutex
	counts map[string]int
}

func (c *comparisonCounter) ObserveInventoryComparison(result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[result]++
}

func (c *comparisonCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.counts
	c.counts = map[string]int{}
	return got
}

// Every resync of a Ready project compares its state with the tagged
// inventory, and the comparison is counted by result: how an operator (and
// the steady-state benchmark) sees that every project's drift is checked
// without terraform. A project that is not Ready is not compared.
func TestInventoryComparisonsAreCounted(t *testing.T) {
	t.Parallel()
	counter := &comparisonCounter{counts: map[string]int{}}
	tags := map[string]string{"Project": tf.ProjectTag("c", "strays"), "ManagedBy": "chart-app-platform", "UserId": "c", "ProjectId": "strays"}
	h := newHarness(t, func(c *Config) {
		c.Metrics = counter
		c.Inventory = fakeInventory{items: []store.InventoryItem{{ARN: "arn:aws:s3:::left", Type: "s3:bucket", Region: "us-east-1", Tags: tags}}}
	})
	h.put("c", "clean", oneResource())
	h.put("c", "strays", oneResource())
	h.reconcileDue()
	for _, p := range []string{"clean", "strays"} {
		if got := h.get("c", p); got.Status.Phase != store.PhaseReady {
			t.Fatalf("%s: phase %s (%s)", p, got.Status.Phase, got.Status.LastError)
		}
	}
	if got := counter.take(); got[metrics.ComparisonInSync] != 0 || got[metrics.ComparisonStrays] != 0 {
		t.Fatalf("comparisons while the projects were being created: %v; want none counted as compared", got)
	}

	h.clock.Advance(11 * time.Minute)
	if n := h.reconcileDue(); n != 2 {
		t.Fatalf("%d passes at the resync, want 2", n)
	}
	got := counter.take()
	if got[metrics.ComparisonInSync] != 1 || got[metrics.ComparisonStrays] != 1 || len(got) != 2 {
		t.Fatalf("comparisons at the resync: %v; want one in_sync and one strays", got)
	}
}
