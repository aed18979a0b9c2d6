//go:build e2e

package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/controller"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// gatedEngine is the real engine whose first Plan, once terraform has
// finished planning, waits for the test before returning: the plan run
// stays running, with its output already printed, for as long as the test
// needs. Nothing else differs from what serve and reconcile run.
type gatedEngine struct {
	*tf.Engine
	once    sync.Once
	planned chan struct{}
	release chan struct{}
}

func (g *gatedEngine) Plan(ctx context.Context, p tf.Project, creds *tf.Credentials) (*tf.Plan, error) {
	pl, err := g.Engine.Plan(ctx, p, creds)
	g.once.Do(func() {
		close(g.planned)
		select {
		case <-g.release:
		case <-ctx.Done():
		}
	})
	return pl, err
}

// TestCLILogsFollowARunningRun: `logs -f` against a real serve and
// reconciler (real terraform, real PostgreSQL) attaches to a plan run that
// is still running, prints what terraform printed so far, keeps following
// while the run is held open, and ends with the run's outcome once the run
// finishes — and only then.
func TestCLILogsFollowARunningRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_PATH") == "" {
		t.Skip("needs terraform >= 1.5 on PATH or TF_PATH (.ci/run installs one)")
	}
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := parseConfig(modeDev, env{
		"DATABASE_URL":        storetest.NewDatabase(t),
		"JWT_SECRET":          cliTestSecret,
		"TENANTFORM_DATA_DIR": t.TempDir(),
		"TF_PATH":             os.Getenv("TF_PATH"),
		"HOME":                os.Getenv("HOME"),
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
	// A failing test may leave logs -f following: its stream must not keep
	// Close waiting.
	defer srv.CloseClientConnections()
	gate := &gatedEngine{Engine: engine, planned: make(chan struct{}), release: make(chan struct{})}
	released := sync.OnceFunc(func() { close(gate.release) })
	reconciled := make(chan error, 1)
	go func() { reconciled <- controller.New(controllerConfig(cfg, st, nil, nil, log), st, gate).Run(ctx) }()
	defer func() {
		cancel()
		if err := <-reconciled; err != nil && ctx.Err() == nil {
			t.Errorf("reconciler: %v", err)
		}
	}()
	defer released()

	e := &cliEnv{t: t, st: st, url: srv.URL}
	alice := e.token("alice", false)
	dir := writeTerraformDir(t, "demo", maps(demoFiles))
	e.run(alice, "projects", "apply", "-f", dir, "-var", "n=1", "-var", "label=web").want(t, 0)
	select {
	case <-gate.planned:
	case <-time.After(3 * time.Minute):
		t.Fatal("the reconciler did not plan within 3 minutes")
	}

	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"logs", "demo", "-f"}, &out, &errOut, env{"TENANTFORM_URL": e.url, "TENANTFORM_TOKEN": alice}.get)
	}()
	// The plan's output arrives while its run is still running (the gate
	// holds it open)...
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(out.String(), "Plan: 1 to add, 0 to change, 0 to destroy.") {
		select {
		case code := <-done:
			t.Fatalf("logs -f ended (exit %d) while the run was running:\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
		case <-deadline:
			t.Fatalf("logs -f did not print the running plan's output within 2 minutes:\nstdout: %s\nstderr: %s", out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !strings.Contains(errOut.String(), "run 1: plan of generation 1, running") {
		t.Errorf("logs -f does not say it follows a running run:\n%s", errOut.String())
	}
	if strings.Contains(errOut.String(), "ended") {
		t.Fatalf("logs -f says the run ended while it runs:\n%s", errOut.String())
	}
	// ...and the follower is still there, not done, until the run ends.
	select {
	case code := <-done:
		t.Fatalf("logs -f ended (exit %d) before the run did:\n%s", code, errOut.String())
	default:
	}
	released()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("logs -f: exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("logs -f did not end within 2 minutes of the run's end:\nstdout: %s\nstderr: %s", out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "run 1 ended: succeeded") {
		t.Errorf("logs -f does not end with the run's outcome:\n%s", errOut.String())
	}
	if n := strings.Count(out.String(), "Plan: 1 to add"); n != 1 {
		t.Errorf("the plan line was printed %d times, want once:\n%s", n, out.String())
	}

	// A finished run is followed to its end at once; -f with -o json is a
	// usage mistake.
	waitPhase := time.After(3 * time.Minute)
	for {
		r := e.run(alice, "runs", "demo")
		if strings.Contains(r.stdout, "apply") && strings.Contains(r.stdout, "succeeded") && !strings.Contains(r.stdout, "running") {
			break
		}
		select {
		case <-waitPhase:
			t.Fatalf("the apply did not finish:\n%s", r.stdout)
		case <-time.After(50 * time.Millisecond):
		}
	}
	e.run(alice, "logs", "demo", "-f").want(t, 0, "Apply complete", "ended: succeeded")
	e.run(alice, "logs", "demo", "1", "-f").want(t, 0, "Plan: 1 to add", "run 1 ended: succeeded")
	e.run(alice, "logs", "demo", "-f", "-o", "json").want(t, 2, "takes no -o json")
}
