//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// TestCLIWatchWithARealReconciler runs the client against what `serve` and
// `reconcile` run (the same handler and controller wiring, real terraform,
// real PostgreSQL): apply --watch ends on Ready with exit 0, and a project
// over the user's resource quota ends Blocked with exit 1 and the reason.
func TestCLIWatchWithARealReconciler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newRealCLIEnv(t, env{"MAX_RESOURCES_PER_USER": "3"}, nil)
	st := e.st
	alice := e.token("alice", false)
	dir := writeTerraformDir(t, "demo", maps(demoFiles))
	start := time.Now()
	r := e.run(alice, "projects", "apply", "-f", dir, "-var", "n=1", "-var", "label=web", "--watch", "--interval", "100ms", "--timeout", "2m")
	r.want(t, 0, "] Planning", "is Ready (generation 1): 1 resources")
	t.Logf("Ready in %s:\n%s", time.Since(start).Round(time.Millisecond), r.stdout)
	e.run(alice, "runs", "demo").want(t, 0, "plan", "apply", "succeeded")
	e.run(alice, "logs", "demo").want(t, 0, "Apply complete")

	// With -o json the document alone is on stdout; progress goes to
	// stderr.
	r = e.run(alice, "projects", "apply", "-f", dir, "json-too", "-var", "n=2", "-var", "label=x", "-o", "json", "--watch", "--interval", "100ms")
	r.want(t, 0, "is Ready (generation 1)")
	var doc struct{ ProjectID string }
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.ProjectID != "json-too" {
		t.Errorf("apply -o json --watch: stdout is not the project document (%v):\n%s", err, r.stdout)
	}

	// With approval: apply --watch stops at AwaitingApproval with the plan
	// and the command that approves; approve --watch follows to Ready.
	r = e.run(alice, "projects", "apply", "-f", dir, "gated", "-var", "n=3", "-var", "label=x", "--require-approval", "--watch", "--interval", "100ms", "--timeout", "2m")
	r.want(t, 0, "] AwaitingApproval", "plan: 1 to add, 0 to change, 0 to destroy", "awaits approval: tenantform projects approve gated --run 1 --watch")
	e.run(alice, "projects", "approve", "gated", "--watch", "--interval", "100ms", "--timeout", "2m").
		want(t, 0, "the plan of run 1 (generation 1) is approved", "is Ready (generation 1)")
	// delete --watch: destroyed, then gone.
	e.run(alice, "projects", "delete", "gated", "--watch", "--interval", "100ms", "--timeout", "2m").
		want(t, 0, "is being destroyed", "project alice/gated is gone")
	e.run(alice, "projects", "get", "gated").want(t, 1, "Gone (HTTP 410)")

	// Three more resources against a quota of 3: Blocked, exit 1, the reason.
	three := writeTerraformDir(t, "three", map[string]string{
		"main.tf": `resource "terraform_data" "a" { count = 3 }`,
	})
	r = e.run(alice, "projects", "apply", "-f", three, "--watch", "--interval", "100ms", "--timeout", "2m")
	r.want(t, 1, "is Blocked (QuotaExceeded)")
	if p, err := st.GetProject(ctx, store.Key{UserID: "alice", ProjectID: "three"}); err != nil || p.Status.ResourceCount != 0 {
		t.Errorf("the blocked project: %+v, %v", p.Status, err)
	}
	if !strings.Contains(r.stderr, "over the limit of 3") {
		t.Errorf("the Blocked error does not explain the quota:\n%s", r.stderr)
	}
}
