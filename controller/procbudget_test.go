package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// The process budget: how many terraform processes each path of a project
// may start. The reviewed workflow by hand is init, plan -out, show -json,
// apply; tenantform should cost no more.
const (
	// budgetNew: init, plan, show, apply.
	budgetNew = 4
	// budgetNewWarm: plan, show, apply for a new project whose init
	// another project with the same providers and modules already ran (the
	// engine's init snapshots).
	budgetNewWarm = 3
	// budgetChanged: plan, show, apply; init only when the providers,
	// modules or backend changed (the workdir's init digest).
	budgetChanged = 3
	// budgetChangedInit: a change that adds a module needs its init.
	budgetChangedInit = 4
	// budgetIdle: a resync of an unchanged project, and its drift check
	// against a clean tagged inventory, run no terraform.
	budgetIdle = 0
	// budgetDriftReplan: the slow DRIFT_CHECK_INTERVAL re-plan with
	// refresh of a project that did not drift: plan, show.
	budgetDriftReplan = 2
)

// processLog is a "terraform" that records the subcommand of every process
// the engine starts, with its working directory (the project's workdir),
// then execs the real one.
type processLog struct {
	t    *testing.T
	path string
	seen int // lines already taken by take
}

func newProcessLog(t *testing.T) (*processLog, string) {
	t.Helper()
	dir := t.TempDir()
	l := &processLog{t: t, path: filepath.Join(dir, "processes.log")}
	wrapper := filepath.Join(dir, "terraform")
	script := fmt.Sprintf("#!/bin/sh\necho \"${PWD##*/} $1\" >> %q\nexec %q \"$@\"\n", l.path, terraformBinary(t))
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return l, wrapper
}

// take returns the subcommands started in the workdir of user's project
// since its last call.
func (l *processLog) take(user, project string) []string {
	l.t.Helper()
	b, err := os.ReadFile(l.path)
	if err != nil && !os.IsNotExist(err) {
		l.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(b) == 0 {
		lines = nil
	}
	var got []string
	for _, line := range lines[l.seen:] {
		if dir, cmd, _ := strings.Cut(line, " "); dir == tf.WorkspaceName(user, project) {
			got = append(got, cmd)
		}
	}
	l.seen = len(lines)
	return got
}

// overBudget says how a path's processes exceed its budget; "" when they
// do not.
func overBudget(path string, budget int, got []string) string {
	if len(got) <= budget {
		return ""
	}
	return fmt.Sprintf("%s started %d terraform processes %v, budget %d", path, len(got), got, budget)
}

// newBudgetHarness runs the reconciler against real terraform behind the
// recording wrapper.
func newBudgetHarness(t *testing.T) (*harness, *processLog, func() *tf.Engine) {
	t.Helper()
	log, wrapper := newProcessLog(t)
	h := newStoreHarness(t, []func(*Config){func(c *Config) { c.DriftCheckInterval = 24 * time.Hour }})
	// newEngine is a replica's engine, with a work root of its own. The
	// sandbox is off so that the wrapper can write its log outside the
	// workdir; the sandbox has its own tests (tf/).
	newEngine := func() *tf.Engine {
		e, err := tf.New(tf.Config{
			BinaryPath: wrapper, WorkRoot: t.TempDir(), PGConnStr: h.dbURL, Sandbox: tf.SandboxOff,
			Environment: "test", StopGrace: 5 * time.Second, LockTimeout: 30 * time.Second,
			Logger: zaptest.NewLogger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	h.engine = newEngine()
	h.tf = h.engine
	h.c = New(h.cfg, h.st, h.tf)
	return h, log, newEngine
}

// TestProcessBudget counts the terraform processes of each path of a
// project's life through the controller, with real terraform and
// PostgreSQL, against the budget above.
func TestProcessBudget(t *testing.T) {
	t.Parallel()
	h, procs, newEngine := newBudgetHarness(t)
	check := func(path string, budget int, wantOutput float64) {
		t.Helper()
		got := procs.take("bo", "budget")
		if msg := overBudget(path, budget, got); msg != "" {
			t.Error(msg)
		} else {
			t.Logf("%s: %d terraform processes %v (budget %d)", path, len(got), got, budget)
		}
		p := h.get("bo", "budget")
		if p.Status.Phase != store.PhaseReady || p.Status.ObservedGeneration != p.Generation {
			t.Fatalf("%s: phase %s, observed generation %d of %d (%s)", path, p.Status.Phase, p.Status.ObservedGeneration, p.Generation, p.Status.LastError)
		}
		if p.Status.Outputs["n"] != wantOutput {
			t.Fatalf("%s: outputs %v, want n = %v", path, p.Status.Outputs, wantOutput)
		}
	}

	h.put("bo", "budget", budgetSpec(1, false))
	h.reconcileDue()
	check("a new project", budgetNew, 1)

	h.clock.Advance(time.Minute)
	h.put("bo", "budget", budgetSpec(2, false))
	h.reconcileDue()
	check("a changed project", budgetChanged, 2)

	h.put("bo", "second", budgetSpec(7, false))
	h.reconcileDue()
	got := procs.take("bo", "second")
	if msg := overBudget("a second new project", budgetNewWarm, got); msg != "" {
		t.Error(msg)
	} else {
		t.Logf("a second new project: %d terraform processes %v (budget %d)", len(got), got, budgetNewWarm)
	}
	if p := h.get("bo", "second"); p.Status.Phase != store.PhaseReady || p.Status.Outputs["n"] != float64(7) {
		t.Fatalf("the second project: phase %s, outputs %v (%s)", p.Status.Phase, p.Status.Outputs, p.Status.LastError)
	}

	h.clock.Advance(11 * time.Minute)
	if n := h.reconcileDue(); n != 2 {
		t.Fatalf("%d passes for the resync, want 2 (both projects)", n)
	}
	check("a no-op resync", budgetIdle, 2)

	// The drift check from the tagged inventory (store.ProjectInventory),
	// listed after the project settled: a stray tagged with the project
	// shows the comparison ran, then a clean listing.
	h.cfg.Inventory = h.st
	h.restart()
	tags := map[string]string{"Project": tf.ProjectTag("bo", "budget"), "ManagedBy": "chart-app-platform", "UserId": "bo", "ProjectId": "budget"}
	if _, err := h.st.ReplaceInventory(context.Background(), "us-east-1",
		[]store.InventoryItem{{ARN: "arn:aws:s3:::stray", Type: "s3:bucket", Region: "us-east-1", Tags: tags}}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(11 * time.Minute)
	h.reconcileDue()
	if c, ok := findCondition(h.get("bo", "budget").Status, CondStrays); !ok || c.Status != "True" {
		t.Fatalf("the inventory comparison did not run: Strays condition %+v", c)
	}
	check("a drift check finding a stray", budgetIdle, 2)
	if _, err := h.st.ReplaceInventory(context.Background(), "us-east-1", nil); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(11 * time.Minute)
	h.reconcileDue()
	if c, _ := findCondition(h.get("bo", "budget").Status, CondStrays); c.Status != "False" {
		t.Fatalf("the clean inventory was not compared: Strays condition %+v", c)
	}
	check("a drift check with a clean inventory", budgetIdle, 2)

	// The slow re-plan with refresh finds nothing to do.
	h.clock.Advance(25 * time.Hour)
	h.reconcileDue()
	check("the DRIFT_CHECK_INTERVAL re-plan without drift", budgetDriftReplan, 2)

	// A change adding a module needs init, and only then.
	h.clock.Advance(time.Minute)
	h.put("bo", "budget", budgetSpec(3, true))
	h.reconcileDue()
	check("a change adding a module", budgetChangedInit, 3)

	// The counter sees every process, and the budget check fails a path
	// that exceeds it: a change reconciled by another replica, whose
	// engine has no workdir and no init snapshot, needs init again, one
	// process over the budget of a change.
	h.engine = newEngine()
	h.tf = h.engine
	h.restart()
	h.clock.Advance(time.Minute)
	h.put("bo", "budget", budgetSpec(4, true))
	h.reconcileDue()
	got = procs.take("bo", "budget")
	if overBudget("a change on another replica", budgetChanged, got) == "" {
		t.Errorf("a change on another replica started %v: the budget check did not see its init", got)
	}
	if p := h.get("bo", "budget"); p.Status.Phase != store.PhaseReady || p.Status.Outputs["n"] != float64(4) {
		t.Fatalf("on another replica: phase %s, outputs %v (%s)", p.Status.Phase, p.Status.Outputs, p.Status.LastError)
	}
}

// budgetSpec is counterSpec living long enough for every path, with a
// local module when withModule is set.
func budgetSpec(n int, withModule bool) store.Spec {
	spec := counterSpec(n)
	spec.TTLMinutes = 3 * 24 * 60
	if withModule {
		spec.Files["main.tf"] += "module \"m\" {\n  source = \"./m\"\n}\n"
		spec.Files["m/main.tf"] = "output \"x\" {\n  value = 1\n}\n"
	}
	return spec
}
