//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
)

// TestCLIWatchWithARealReconciler runs the client against what `serve` and
// `reconcile` run (the same handler and controller wiring, real terraform,
// real PostgreSQL): apply --watch ends on Ready with exit 0, and a project
// over the user's resource quota ends Blocked with exit 1 and the reason.
func TestCLIWatchWithARealReconciler(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_PATH") == "" {
		t.Skip("needs terraform >= 1.5 on PATH or TF_PATH (.ci/run installs one)")
	}
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dbURL := storetest.NewDatabase(t)
	cfg, err := parseConfig(modeDev, env{
		"DATABASE_URL":           dbURL,
		"JWT_SECRET":             cliTestSecret,
		"MAX_RESOURCES_PER_USER": "3",
		"TENANTFORM_DATA_DIR":    t.TempDir(),
		"TF_PATH":                os.Getenv("TF_PATH"),
		"HOME":                   os.Getenv("HOME"),
	}.get)
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	engine, err := newEngine(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newAPIHandler(cfg, st, newMetrics(), nil, nil, log))
	defer srv.Close()
	reconciled := make(chan error, 1)
	go func() { reconciled <- newController(cfg, st, engine, nil, nil, log).Run(ctx) }()
	defer func() {
		cancel()
		if err := <-reconciled; err != nil && ctx.Err() == nil {
			t.Errorf("reconciler: %v", err)
		}
	}()

	e := &cliEnv{t: t, st: st, url: srv.URL}
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
