//go:build e2e

package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantform/tenantform/controller"
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
	t.Parallel()
	gate := &gatedEngine{planned: make(chan struct{}), release: make(chan struct{})}
	released := sync.OnceFunc(func() { close(gate.release) })
	e := newRealCLIEnv(t, nil, func(engine *tf.Engine) controller.Terraform { gate.Engine = engine; return gate })
	// Registered after the env's: runs before the reconciler is stopped.
	t.Cleanup(released)
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
