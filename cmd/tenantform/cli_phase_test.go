package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// TestCLIRetryingAndFailedReadDifferently: get, describe and a watch say
// of a Retrying project that it is retried automatically and when, and of
// a Failed one that nothing is retried until the spec changes.
func TestCLIRetryingAndFailedReadDifferently(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	alice := e.token("alice", false)
	dirs := map[string]string{}
	for _, name := range []string{"flaky", "broken"} {
		dirs[name] = writeTerraformDir(t, name, maps(demoFiles))
		e.run(alice, "projects", "apply", "-f", dirs[name], "-var", "n=1", "-var", "label=x").want(t, 0)
	}
	now := time.Now()
	next := now.Add(90 * time.Second)
	e.reconcilerStep(store.Key{UserID: "alice", ProjectID: "flaky"}, store.Status{
		Phase: store.PhaseRetrying, ObservedGeneration: 1, Attempts: 1, NextAttemptAt: &next,
		Message: "attempt 1 failed; retrying in 1m30s", LastError: "dial tcp 10.0.0.1:443: connection refused",
		Conditions: []store.Condition{{Type: "Ready", Status: "False", Reason: "PlanFailed",
			Message: "dial tcp 10.0.0.1:443: connection refused", ObservedGeneration: 1, LastTransitionTime: now}},
	})
	e.reconcilerStep(store.Key{UserID: "alice", ProjectID: "broken"}, store.Status{
		Phase: store.PhaseFailed, ObservedGeneration: 1,
		Message: "the spec cannot be applied; change it to retry", LastError: "terraform plan exceeded the cpu limit (600s)",
		Conditions: []store.Condition{{Type: "Ready", Status: "False", Reason: "LimitExceeded",
			Message: "terraform plan exceeded the cpu limit (600s)", ObservedGeneration: 1, LastTransitionTime: now}},
	})

	r := e.run(alice, "projects", "get", "flaky")
	r.want(t, 0, "Retrying", "retry in 1m", "connection refused")
	r = e.run(alice, "projects", "get", "broken")
	r.want(t, 0, "Failed", "cpu limit")
	if strings.Contains(r.stdout, "retry in") {
		t.Errorf("a terminal failure reads as retried:\n%s", r.stdout)
	}
	e.run(alice, "projects", "describe", "flaky").want(t, 0, "Retrying (a transient failure: retried automatically in 1m", "attempt 1 failed; next at")
	e.run(alice, "projects", "describe", "broken").want(t, 0, "Failed (terminal: nothing is retried until the spec changes)")
	// apply --watch of the same spec ends on either, saying which it is.
	for name, want := range map[string]string{
		"flaky":  "is Retrying (PlanFailed) (a transient failure: retried automatically in ",
		"broken": "is Failed (LimitExceeded) (terminal: nothing is retried until the spec changes)",
	} {
		e.run(alice, "projects", "apply", "-f", dirs[name], "-var", "n=1", "-var", "label=x", "--watch", "--interval", "10ms", "--timeout", "1m").
			want(t, 1, want)
	}
}
