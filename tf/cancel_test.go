package tf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCancelApplyReleasesLock cancels a real, long apply half-way. Terraform
// must get SIGINT (not be killed), stop gracefully within StopGrace, and
// release the state lock: a plan right after, with a short lock timeout,
// succeeds.
func TestCancelApplyReleasesLock(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "", func(c *Config) {
		c.StopGrace = 15 * time.Second
		c.LockTimeout = 2 * time.Second
	})
	// Applying 4000 terraform_data instances takes terraform about eight
	// seconds on a 2-core machine, planning them two.
	p := Project{UserID: "frank", ProjectID: "slow", Files: map[string]string{"main.tf": `
resource "terraform_data" "many" {
  count = 4000
  input = count.index
}
`}}
	plan := mustPlan(t, e, p, nil)
	if plan.Summary.Add != 4000 {
		t.Fatalf("plan: %d to add, want 4000", plan.Summary.Add)
	}

	ctx, cancel := context.WithCancel(testContext(t))
	go func() {
		time.Sleep(1500 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	_, err := e.Apply(ctx, p, plan, nil)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("apply finished in %s before it could be cancelled; make it slower", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("apply error = %v, want context.Canceled", err)
	}
	if took > 1500*time.Millisecond+e.cfg.StopGrace {
		t.Errorf("cancelled apply returned after %s", took)
	}
	// "execution halted" is terraform's diagnostic for operations it
	// skipped because it was interrupted: it stopped, it was not killed.
	var ce *CommandError
	if !errors.As(err, &ce) || len(ce.Diagnostics) == 0 || !strings.Contains(ce.Diagnostics[0], "execution halted") {
		t.Errorf("terraform did not stop gracefully: %s", describe(err))
	}
	t.Logf("cancelled apply returned after %s", took)

	// The lock is free: the next plan gets it within its 2 s timeout and
	// sees the part of the apply that happened.
	plan, err = e.Plan(testContext(t), p, nil)
	if err != nil {
		t.Fatalf("plan after cancelled apply: %s", describe(err))
	}
	if plan.Summary.Add == 0 || plan.Summary.Add == 4000 {
		t.Errorf("plan after cancelled apply: %d to add; want some but not all of the apply to have happened", plan.Summary.Add)
	}
}

// TestCancelKillsAfterStopGrace: a terraform that ignores SIGINT is killed
// StopGrace after the cancellation, and the SIGINT came first.
func TestCancelKillsAfterStopGrace(t *testing.T) {
	t.Parallel()
	real := terraformBinary(t)
	marks := t.TempDir()
	// Every command but plan is the real terraform; plan records that it
	// started, then ignores SIGINT (recording each one) until killed.
	wrapper := writeScript(t, t.TempDir(), "terraform", `
if [ "$1" != plan ]; then exec "`+real+`" "$@"; fi
echo $$ > "`+marks+`/started"
trap 'echo INT >> "`+marks+`/signals"' INT
while :; do sleep 0.1; done
`)
	e := newTestEngine(t, "", func(c *Config) {
		c.BinaryPath = wrapper
		c.StopGrace = time.Second
	})
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	cancelled := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(marks, "started")); err == nil {
				cancelled <- time.Now()
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := e.Plan(ctx, counterProject("gina", "stuck", 1), nil)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("plan did not return after cancellation")
	}
	took := time.Since(<-cancelled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("plan error = %v, want context.Canceled", err)
	}
	// Killed at StopGrace; allow for a loaded machine.
	if took < e.cfg.StopGrace || took > e.cfg.StopGrace+3*time.Second {
		t.Errorf("plan returned %s after cancellation, want about StopGrace (%s)", took, e.cfg.StopGrace)
	}
	sigs, _ := os.ReadFile(filepath.Join(marks, "signals"))
	if !strings.Contains(string(sigs), "INT") {
		t.Errorf("terraform was not sent SIGINT before being killed")
	}
	pid, _ := os.ReadFile(filepath.Join(marks, "started"))
	if _, err := os.Stat("/proc/" + strings.TrimSpace(string(pid))); err == nil {
		t.Errorf("terraform (pid %s) still running after the plan returned", strings.TrimSpace(string(pid)))
	}
	t.Logf("plan returned %s after cancellation", took)
}
