//go:build e2e

package tf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/tf/policy"

	"github.com/jackc/pgx/v5"
)

// TestCancelApplyReleasesLock cancels a real, long apply half-way. Terraform
// must get SIGINT (not be killed), stop gracefully within StopGrace, and
// release the state lock: a plan right after, with a short lock timeout,
// succeeds.
func TestCancelApplyReleasesLock(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "", func(c *Config) {
		// Interrupted, terraform still writes the state of what it
		// created: 10-14 s on a quiet 2-core machine, more under load. The
		// grace is what the test allows before it counts as killed.
		c.StopGrace = 45 * time.Second
		c.LockTimeout = 2 * time.Second
		// The literal count below is over the default bound of one resource's count.
		c.Policy = policy.DefaultRules()
		c.Policy.MaxResources = 4000
	})
	// Applying 4000 terraform_data instances takes terraform about eight
	// seconds on a 2-core machine, planning them two: plenty of time to
	// interrupt it half-way.
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

	// Cancel two seconds after apply took the state lock (an advisory lock
	// in the state database), i.e. in the middle of creating resources,
	// however slow the machine is.
	ctx, cancel := context.WithCancel(testContext(t))
	cancelled := make(chan time.Time, 1)
	go func() {
		defer cancel()
		if err := waitForAdvisoryLock(ctx, e.cfg.PGConnStr); err != nil {
			t.Errorf("waiting for apply to lock the state: %v", err)
			return
		}
		time.Sleep(2 * time.Second)
		cancelled <- time.Now()
	}()
	_, err := e.Apply(ctx, p, plan, nil)
	if err == nil {
		t.Fatal("apply finished before it could be cancelled; make it slower")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("apply error = %v, want context.Canceled", err)
	}
	took := time.Since(<-cancelled)
	if took > e.cfg.StopGrace {
		t.Errorf("cancelled apply returned %s after cancellation, after StopGrace: it was killed", took)
	}
	// Terraform reports "Interrupt received" and one "execution halted"
	// per resource it did not get to: it stopped, it was not killed.
	var ce *CommandError
	if !errors.As(err, &ce) || !(strings.Contains(ce.LogTail, "execution halted") || strings.Contains(ce.LogTail, "Interrupt received")) {
		t.Errorf("terraform did not stop gracefully: %s", describe(err))
	}
	t.Logf("cancelled apply returned %s after cancellation", took)

	// The lock is free: the next plan gets it within its 2 s timeout and
	// sees the part of the apply that happened.
	plan, err = e.Plan(testContext(t), p, nil)
	if err != nil {
		t.Fatalf("plan after cancelled apply: %s", describe(err))
	}
	if plan.Summary.Add == 0 {
		t.Errorf("plan after cancelled apply: nothing to add, but the apply was cut short")
	}
	t.Logf("plan after cancelled apply: %d of 4000 still to add", plan.Summary.Add)
}

// waitForAdvisoryLock waits until some session holds an advisory lock in
// the database: the pg backend's state lock.
func waitForAdvisoryLock(ctx context.Context, connStr string) error {
	conn, err := pgx.Connect(ctx, connStr)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n)
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// TestCancelKillsAfterStopGrace: a terraform that ignores SIGINT is killed
// StopGrace after the cancellation, and the SIGINT came first.
func TestCancelKillsAfterStopGrace(t *testing.T) {
	t.Parallel()
	real := terraformBinary(t)
	marks := t.TempDir()
	// Every command but plan is the real terraform; plan records that it
	// started, then ignores SIGINT (recording each one) until killed. The
	// trap is set before the start marker, so no SIGINT can come first.
	wrapper := writeScript(t, t.TempDir(), "terraform", `
if [ "$1" != plan ]; then exec "`+real+`" "$@"; fi
trap 'echo INT >> "`+marks+`/signals"' INT
echo $$ > "`+marks+`/started"
while :; do sleep 0.1; done
`)
	e := newTestEngine(t, "", func(c *Config) {
		c.BinaryPath = wrapper
		c.sandboxExtraRW = []string{marks}
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
