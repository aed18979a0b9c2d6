//go:build e2e

package controller

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantform/tenantform/store"
)

// TestSpeculativePlanOfADeletedProject: a speculative plan queued for a
// project that is destroyed and removed before a worker takes it fails,
// saying so, rather than planning the spec as a new project.
func TestSpeculativePlanOfADeletedProject(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t)
	h.put("dave", "gone", counterSpec(1))
	h.reconcileDue()
	late := h.queueSpeculative("dave", "gone", counterSpec(2))
	if _, err := h.st.RequestDeletion(context.Background(), store.Key{UserID: "dave", ProjectID: "gone"}, false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.reconcileDue() // destroyed and removed
	h.speculateDue()
	run, _ := h.speculativeResult("dave", "gone", late.RowID)
	if run.Outcome != store.OutcomeFailed || !strings.Contains(run.Error, "was deleted after this speculative plan was requested") {
		t.Errorf("plan of a deleted project: outcome %q, error %q", run.Outcome, run.Error)
	}
}
