package tf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildSupervisor builds cmd/tenantform-tf-supervisor into a temporary
// directory (the go command's cache makes every build after the first a
// link of a small binary).
func buildSupervisor(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), SupervisorBinary)
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tenantform/tenantform/cmd/tenantform-tf-supervisor")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", SupervisorBinary, err, out)
	}
	return bin
}

// An engine configured with the separate supervisor starts every command
// through it, under the sandbox when the kernel has Landlock, and a plan
// of a real project works.
func TestEngineStartsCommandsThroughTheSeparateSupervisor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	built := buildSupervisor(t)
	// A wrapper that counts its starts, then becomes the supervisor (exec
	// keeps the process: the supervisor's parent is still the engine).
	used := filepath.Join(dir, "used")
	wrapper := writeScript(t, dir, "supervisor", "echo \"$*\" >> "+used+"\nexec "+built+" \"$@\"\n")
	e := newTestEngine(t, "", func(c *Config) { c.SupervisorPath = wrapper })
	if e.supervisor != wrapper {
		t.Fatalf("engine's supervisor %q, want %q", e.supervisor, wrapper)
	}
	plan := mustPlan(t, e, counterProject("alice", "separate-supervisor", 1), nil)
	if got := counts(plan.Summary); got != [3]int{1, 0, 0} {
		t.Fatalf("plan: add/change/destroy = %v, want 1 to add", got)
	}
	b, _ := os.ReadFile(used)
	starts := strings.Split(strings.TrimSpace(string(b)), "\n")
	// init, plan and show at least: every command of the plan.
	if len(starts) < 3 || !strings.HasPrefix(starts[0], "init") {
		t.Errorf("commands started through the separate supervisor: %q, want init, plan and show", starts)
	}
}

func TestFindSupervisor(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "tenantform")
	// Nothing beside the running binary: it re-executes itself.
	if got, err := findSupervisor("", self); err != nil || got != selfExe {
		t.Errorf("nothing beside: %q, %v; want %q", got, err, selfExe)
	}
	// A file that is not executable beside it is not used.
	beside := filepath.Join(dir, SupervisorBinary)
	if err := os.WriteFile(beside, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := findSupervisor("", self); got != selfExe {
		t.Errorf("non-executable beside: %q, want %q", got, selfExe)
	}
	if err := os.Chmod(beside, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findSupervisor("", self); err != nil || got != beside {
		t.Errorf("beside: %q, %v; want %q", got, err, beside)
	}
	// A configured one wins, and must exist.
	other := writeScript(t, t.TempDir(), "sup", "")
	if got, err := findSupervisor(other, self); err != nil || got != other {
		t.Errorf("configured: %q, %v; want %q", got, err, other)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := findSupervisor(missing, self); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("configured but missing: %v, want an error naming %s", err, missing)
	}
}
