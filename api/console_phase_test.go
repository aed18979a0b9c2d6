package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// TestConsoleRetryingAndFailed: a project page tells a transient failure
// (Retrying, with its next attempt) from a terminal one (Failed).
func TestConsoleRetryingAndFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	for _, name := range []string{"flaky", "broken"} {
		e.do("PUT", "/api/v1/users/alice/projects/"+name, alice, spec(1)).wantStatus(t, http.StatusCreated)
	}
	next := t0.Add(90 * time.Second)
	e.reconciled(store.Key{UserID: "alice", ProjectID: "flaky"}, store.Status{Phase: store.PhaseRetrying, ObservedGeneration: 1,
		Attempts: 1, NextAttemptAt: &next, Message: "attempt 1 failed; retrying in 1m30s", LastError: "connection refused"})
	e.reconciled(store.Key{UserID: "alice", ProjectID: "broken"}, store.Status{Phase: store.PhaseFailed, ObservedGeneration: 1,
		Message: "the spec cannot be applied; change it to retry", LastError: "cpu limit"})

	c := &consoleClient{t: t, e: e}
	c.login(e.token("root", true)) // the console needs an admin token
	flaky := c.do("GET", "/console/projects/alice/flaky", nil)
	flaky.want(t, http.StatusOK, `class="phase phase-retrying">Retrying<`,
		"transient: attempt 1 failed; retried automatically at "+next.UTC().Format("2006-01-02 15:04:05Z"))
	broken := c.do("GET", "/console/projects/alice/broken", nil)
	broken.want(t, http.StatusOK, `class="phase phase-failed">Failed<`, "terminal: nothing is retried until the spec changes")
	if strings.Contains(broken.body, "retried automatically") || strings.Contains(flaky.body, "terminal:") {
		t.Error("a project page mixes up transient and terminal failures")
	}
}
