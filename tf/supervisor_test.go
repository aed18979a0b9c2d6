package tf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/tf/supervisor"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// buildSupervisor builds cmd/tenantform-tf-supervisor into a temporary
// directory (the go command's cache makes every build after the first a
// link of a small binary).
func buildSupervisor(t testing.TB) string {
	t.Helper()
	return awstest.GoBuild(t, t.TempDir(), "github.com/tenantform/tenantform/cmd/tenantform-tf-supervisor", SupervisorBinary)
}

// eachSupervisor runs f as a subtest with each supervisor binary: this one
// re-executed (selfExe) and the separate one, built.
func eachSupervisor(t *testing.T, f func(t *testing.T, bin string)) {
	for name, bin := range map[string]string{"this binary": selfExe, SupervisorBinary: buildSupervisor(t)} {
		t.Run(name, func(t *testing.T) { f(t, bin) })
	}
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
	core, logs := observer.New(zap.DebugLevel)
	e := newTestEngine(t, "", func(c *Config) { c.SupervisorPath = wrapper; c.Logger = zap.New(core) })
	if e.supervisor != wrapper {
		t.Fatalf("engine's supervisor %q, want %q", e.supervisor, wrapper)
	}
	plan := mustPlan(t, e, counterProject("alice", "separate-supervisor", 1), nil)
	if got := counts(plan.Summary); got != [3]int{1, 0, 0} {
		t.Fatalf("plan: add/change/destroy = %v, want 1 to add", got)
	}
	b, _ := os.ReadFile(used)
	starts := strings.Split(strings.TrimSpace(string(b)), "\n")
	// The trial run at start, then every command the engine started.
	commands := logs.FilterMessage("terraform command").Len()
	if len(starts) < 4 || starts[0] != "-c exit 0" || !strings.HasPrefix(starts[1], "init") || len(starts)-1 != commands {
		t.Errorf("started through the separate supervisor: %q; want the trial run, then init and every one of the engine's %d commands", starts, commands)
	}
}

// The separate supervisor is pinned at start, copied into a sealed memory
// file: what is later written over its file in place, or renamed over its
// path (a deploy beside a running reconciler, a hostile process), starts
// nothing.
func TestTheSupervisorIsPinnedAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, SupervisorBinary)
	if err := os.Rename(buildSupervisor(t), path); err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, "", func(c *Config) { c.SupervisorPath = path })
	if !strings.HasPrefix(e.supervisor, "/proc/self/fd/") {
		t.Fatalf("engine's supervisor %q, want the pinned file", e.supervisor)
	}
	if target, _ := os.Readlink(e.supervisor); !strings.HasPrefix(target, "/memfd:") {
		t.Errorf("the pinned supervisor is %s, want a memory file", target)
	}
	marker := filepath.Join(dir, "impostor-ran")
	impostor := "#!/bin/sh\ntouch " + marker + "\nexit 1\n"
	// In place: the same inode, new contents.
	if err := os.WriteFile(path, []byte(impostor), 0o755); err != nil {
		t.Fatal(err)
	}
	p := counterProject("alice", "pinned", 1)
	plan := mustPlan(t, e, p, nil)
	if got := counts(plan.Summary); got != [3]int{1, 0, 0} {
		t.Fatalf("plan: add/change/destroy = %v, want 1 to add", got)
	}
	// Renamed over the path: another inode.
	if err := os.Rename(writeScript(t, t.TempDir(), "impostor", impostor), path); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e, p, plan, nil)
	if _, err := os.Stat(marker); err == nil {
		t.Error("a file written or renamed over the supervisor's path was executed")
	}
}

// A configured supervisor that does not work stops New, naming it.
func TestABrokenSupervisorIsRefusedAtStart(t *testing.T) {
	t.Parallel()
	broken := writeScript(t, t.TempDir(), SupervisorBinary, "echo 'not a supervisor' >&2\nexit 1\n")
	_, err := New(Config{BinaryPath: terraformBinary(t), WorkRoot: t.TempDir(), PGConnStr: "postgres://127.0.0.1:1/x", SupervisorPath: broken})
	if err == nil || !strings.Contains(err.Error(), broken) || !strings.Contains(err.Error(), "not a supervisor") {
		t.Fatalf("New with a broken supervisor: %v, want an error naming it and its output", err)
	}
}

// A supervisor runs nothing for an engine of another build (another
// protocol) or for instructions with anything after the object.
func TestTheSupervisorRefusesOtherBuildsAndTrailingData(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "ran")
	program := writeScript(t, t.TempDir(), "program", "touch "+marker+"\n")
	for name, bin := range map[string]string{"this binary": selfExe, SupervisorBinary: buildSupervisor(t)} {
		cmd := runHelpersWith(t, bin, supervisor.Spec{Protocol: supervisor.Protocol + 1, Terraform: program, Grace: time.Second}, nil)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != supervisor.ExitFailed || !strings.Contains(string(out), "different builds") {
			t.Errorf("%s, another protocol: %v: %s; want exit %d naming the builds", name, err, out, supervisor.ExitFailed)
		}
		cmd = runHelpersWith(t, bin, supervisor.Spec{Terraform: program, Grace: time.Second}, nil)
		for i, kv := range cmd.Env {
			if strings.HasPrefix(kv, supervisor.Env+"=") {
				cmd.Env[i] = kv + ` {"x":1}`
			}
		}
		out, err = cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != supervisor.ExitFailed || !strings.Contains(string(out), "after the object") {
			t.Errorf("%s, trailing data: %v: %s; want exit %d", name, err, out, supervisor.ExitFailed)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a refused supervisor ran the program")
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
