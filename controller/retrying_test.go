package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// TestRetryingIsNotFailed: a first, transient failure (the network) reads
// Retrying, says when the next attempt is and is retried then; a terminal
// one (a limit) reads Failed, says the spec must change and is never
// retried on its own. Before, both were phase Failed.
func TestRetryingIsNotFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.planHook = func(ctx context.Context, p tf.Project) error {
		switch p.ProjectID {
		case "flaky":
			return errors.New("dial tcp 10.0.0.1:443: connection refused")
		case "capped":
			return &tf.LimitError{Limit: tf.LimitCPU, Value: "600s", Op: "plan"}
		}
		return nil
	}
	h.put("rita", "flaky", counterSpec(1))
	h.put("rita", "capped", counterSpec(1))
	h.reconcileDue()

	flaky := h.get("rita", "flaky")
	ready, _ := findCondition(flaky.Status, CondReady)
	if flaky.Status.Phase != store.PhaseRetrying || flaky.Status.NextAttemptAt == nil || ready.Reason != ReasonPlanFailed {
		t.Fatalf("a transient failure: phase %s, reason %s, next attempt %v; want Retrying with a next attempt",
			flaky.Status.Phase, ready.Reason, flaky.Status.NextAttemptAt)
	}
	if want := "attempt 1 failed; retrying in "; !strings.HasPrefix(flaky.Status.Message, want) {
		t.Errorf("a transient failure's message %q does not start with %q", flaky.Status.Message, want)
	}
	capped := h.get("rita", "capped")
	ready, _ = findCondition(capped.Status, CondReady)
	if capped.Status.Phase != store.PhaseFailed || capped.Status.NextAttemptAt != nil || ready.Reason != ReasonLimitExceeded {
		t.Fatalf("a terminal failure: phase %s, reason %s, next attempt %v; want Failed without a next attempt",
			capped.Status.Phase, ready.Reason, capped.Status.NextAttemptAt)
	}
	if want := "the spec cannot be applied; change it to retry"; capped.Status.Message != want {
		t.Errorf("a terminal failure's message %q, want %q", capped.Status.Message, want)
	}

	// Past its next attempt the transient failure is retried (and now
	// succeeds); the terminal one is left alone.
	h.fake.planHook = nil
	h.clock.Advance(flaky.Status.NextAttemptAt.Sub(h.clock.Now()) + time.Second)
	h.reconcileDue()
	if p := h.get("rita", "flaky"); p.Status.Phase != store.PhaseReady {
		t.Errorf("the retried project is %s, want Ready", p.Status.Phase)
	}
	if p := h.get("rita", "capped"); p.Status.Phase != store.PhaseFailed {
		t.Errorf("the terminal failure is %s once the other was retried, want still Failed", p.Status.Phase)
	}
}
