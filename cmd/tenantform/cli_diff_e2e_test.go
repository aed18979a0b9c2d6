//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
)

// TestCLIDiffWithARealReconciler runs `projects diff` and `apply --dry-run`
// against what `serve` and `reconcile` run (the same handler and
// controller wiring, real terraform, real PostgreSQL): the changes per
// address, the cost and both verdicts are printed; a project at its quota
// shows "would be blocked: quota" and exit 1, and nothing of it changes;
// a policy refusal is the policy verdict; a project that does not exist is
// previewed without being created; usage mistakes exit 2.
func TestCLIDiffWithARealReconciler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newRealCLIEnv(t, env{"MAX_RESOURCES_PER_USER": "2"}, nil)
	st := e.st
	alice := e.token("alice", false)
	one := writeTerraformDir(t, "app", map[string]string{"main.tf": `resource "terraform_data" "a" { input = 1 }`})
	e.run(alice, "projects", "apply", "-f", one, "--watch", "--interval", "100ms", "--timeout", "2m").
		want(t, 0, "is Ready (generation 1): 1 resources")
	key := store.Key{UserID: "alice", ProjectID: "app"}
	before, err := st.GetProject(ctx, key)
	if err != nil {
		t.Fatal(err)
	}

	// Two more resources and a changed one: 3 against a quota of 2.
	three := writeTerraformDir(t, "three", map[string]string{"main.tf": `resource "terraform_data" "a" { input = 2 }
resource "terraform_data" "b" { count = 2 }`})
	r := e.run(alice, "projects", "diff", "-f", three, "app", "--interval", "100ms", "--timeout", "2m")
	r.want(t, 1, "compared with generation 1; run 3 of the project",
		"  ~ terraform_data.a", "  + terraform_data.b[0]", "  + terraform_data.b[1]",
		"plan: 2 to add, 1 to change, 0 to destroy", "cost: about $0.00/month",
		"admission: would be blocked: quota: this project would have 3 resources",
		"policy: the configuration and the plan pass the policy", "nothing was applied",
		"the spec would not be applied as it is")
	t.Logf("projects diff at the quota:\n%s%s", r.stdout, r.stderr)
	after, err := st.GetProject(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation || after.Revision != before.Revision || !cmp.Equal(before.Spec, after.Spec) {
		t.Errorf("the diff changed the project: generation %d→%d, revision %d→%d", before.Generation, after.Generation, before.Revision, after.Revision)
	}
	if diff := cmp.Diff(before.Status, after.Status); diff != "" {
		t.Errorf("the diff changed the status (-before +after):\n%s", diff)
	}
	runs, err := st.ListRuns(ctx, key, 10, 0)
	if err != nil || len(runs) != 3 || runs[0].Kind != store.KindSpeculative || runs[0].Outcome != store.OutcomeSucceeded {
		t.Fatalf("run history: %+v %v", runs, err)
	}
	e.run(alice, "runs", "app").want(t, 0, "plan (speculative)", "apply")

	// apply --dry-run of a spec that passes: exit 0, and still nothing
	// applied.
	e.run(alice, "projects", "apply", "--dry-run", "-f", one, "app", "--interval", "100ms", "--timeout", "2m").
		want(t, 0, "plan: 0 to add, 0 to change, 0 to destroy", "admission: would be admitted: 1 resource(s)")
	// -o json: the plan's document alone on stdout.
	r = e.run(alice, "projects", "diff", "-f", one, "app", "-o", "json", "--interval", "100ms", "--timeout", "2m")
	r.want(t, 0)
	var doc struct {
		Kind      string
		Outcome   string
		Admission struct{ Verdict string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Kind != "speculative" || doc.Admission.Verdict != "admitted" {
		t.Errorf("diff -o json: %+v %v\n%s", doc, err, r.stdout)
	}

	// The policy's refusal is its verdict.
	bad := writeTerraformDir(t, "bad", map[string]string{"main.tf": "resource \"terraform_data\" \"x\" {\n  provisioner \"local-exec\" { command = \"true\" }\n}\n"})
	e.run(alice, "projects", "diff", "-f", bad, "--interval", "100ms", "--timeout", "2m").
		want(t, 1, "policy: would be refused: the configuration breaks the policy", "main.tf:2")

	// A project that does not exist: previewed, not created.
	e.run(alice, "projects", "diff", "-f", one, "fresh", "--interval", "100ms", "--timeout", "2m").
		want(t, 0, "a new project: planned from nothing", "  + terraform_data.a", "admission: would be admitted")
	if _, err := st.GetProject(ctx, store.Key{UserID: "alice", ProjectID: "fresh"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("diff created the project: %v", err)
	}

	// Usage mistakes exit 2.
	e.run(alice, "projects", "diff").want(t, 2, "-f FILE|DIR is required")
	e.run(alice, "projects", "apply", "--dry-run", "--watch", "-f", one).want(t, 2, "--watch follows an apply")
	e.run(alice, "projects", "diff", "-f", one, "-o", "wat").want(t, 2)
}
