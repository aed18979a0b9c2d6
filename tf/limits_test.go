package tf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantform/tenantform/tf/supervisor"
)

// runHelpers runs program through the supervisor and exec helper as the
// engine does (procgroup.go), with spec's limits and sandbox.
func runHelpers(t *testing.T, spec supervisor.Spec, env []string, args ...string) *exec.Cmd {
	return runHelpersWith(t, selfExe, spec, env, args...)
}

// runHelpersWith is runHelpers through the given supervisor binary.
func runHelpersWith(t testing.TB, supervisorBin string, spec supervisor.Spec, env []string, args ...string) *exec.Cmd {
	t.Helper()
	spec.Parent = os.Getpid()
	if spec.Protocol == 0 {
		spec.Protocol = supervisor.Protocol
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(supervisorBin, args...)
	cmd.Env = append(env, supervisor.Env+"="+string(b))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// TestHelperSetsLimits runs the helpers around a shell that reports its
// own limits: they are in place before the program starts, soft and hard
// alike (so terraform cannot raise them), arguments pass through
// untouched, the supervisor's pid file names the group terraform is in,
// and the helpers' own variables are gone. With both supervisors.
func TestHelperSetsLimits(t *testing.T) {
	eachSupervisor(t, func(t *testing.T, bin string) {
		dir := t.TempDir()
		probe := writeScript(t, dir, "probe", `echo "$(ulimit -S -v) $(ulimit -H -v) $(ulimit -S -t) $(ulimit -H -t) $#:$1:$2 $(cut -d' ' -f5 /proc/$$/stat) helpers=${TENANTFORM_TF_SUPERVISE:-}${TENANTFORM_TF_EXEC:-}"`+"\n")
		pidFile := filepath.Join(dir, "pid")
		cmd := runHelpersWith(t, bin, supervisor.Spec{Terraform: probe, MemoryMB: 1536, CPUSeconds: 7, Grace: time.Second, PidFile: pidFile},
			[]string{"PATH=" + DefaultSearchPath}, "a b", `"$c"`)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		pid, _ := os.ReadFile(pidFile)
		want := `1572864 1572864 7 7 2:a b:"$c" ` + strings.TrimSpace(string(pid)) + " helpers="
		if got := strings.TrimSpace(string(out)); got != want || len(pid) == 0 {
			t.Errorf("the child saw %q, want %q (pid file %q)", got, want, pid)
		}
		if strings.TrimSpace(string(pid)) != strconv.Itoa(cmd.Process.Pid) {
			t.Errorf("pid file %q, want the supervisor's %d", pid, cmd.Process.Pid)
		}
	})
}

// TestHelperPassesExitStatus: the supervisor exits as terraform did, with
// its status or killed by its signal.
func TestHelperPassesExitStatus(t *testing.T) {
	eachSupervisor(t, func(t *testing.T, bin string) {
		dir := t.TempDir()
		i := 0
		for script, want := range map[string]string{
			"exit 3":        "exit status 3",
			"kill -KILL $$": "signal: killed",
			"kill -XCPU $$": "signal: CPU time limit exceeded",
			"kill -SEGV $$": "signal: segmentation fault",
			"echo fine >&2": "",
		} {
			i++
			probe := writeScript(t, dir, fmt.Sprintf("probe%d", i), script+"\n")
			err := runHelpersWith(t, bin, supervisor.Spec{Terraform: probe, Grace: time.Second}, nil).Run()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != want {
				t.Errorf("%q: %q, want %q", script, got, want)
			}
		}
	})
}

// Hostile configurations: a few hundred bytes that cost the host dearly.
const (
	// cpuBomb evaluates 64 Mi list elements in nested for expressions: it
	// runs for many minutes.
	cpuBomb = `locals {
  n = sum([for a in range(1024) : sum([for b in range(1024) : length([for c in range(64) : c])])])
}
output "n" { value = local.n }
`
	// memoryBomb builds a 1.5 GB string.
	memoryBomb = `output "n" { value = length(indent(500000000, "a\nb")) }
`
	// outputBomb makes a 600 kB output value, which `terraform show -json`
	// of the plan prints twice.
	outputBomb = `output "big" {
  value = join("", [for i in range(300) : join("", [for j in range(200) : "0123456789"])])
}
`
)

func hostileProject(name, config string) Project {
	return Project{UserID: "mallory", ProjectID: name, Files: map[string]string{"main.tf": config}}
}

// planLimited plans p and requires a *LimitError naming limit.
func planLimited(t *testing.T, e *Engine, p Project, limit string) (*LimitError, time.Duration) {
	t.Helper()
	start := time.Now()
	_, err := e.Plan(testContext(t), p, nil)
	took := time.Since(start)
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("plan of %s: err = %s, want a *LimitError", p.ProjectID, describe(err))
	}
	if le.Limit != limit {
		t.Fatalf("plan of %s hit the %s limit, want %s: %v", p.ProjectID, le.Limit, limit, err)
	}
	if !strings.Contains(err.Error(), limit+" limit") || !strings.Contains(err.Error(), le.Value) || le.Value == "" {
		t.Errorf("error does not name the limit and its value: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Errorf("a limit must not look like the caller's cancellation: %v", err)
	}
	if IsConfigurationError(err) {
		t.Errorf("a limit is reported apart from configuration errors")
	}
	assertNoProcesses(t, e.workdir(p))
	t.Logf("%s: %v after %s", p.ProjectID, err, took.Round(time.Millisecond))
	return le, took
}

// TestCPULimit: the CPU bomb is killed by RLIMIT_CPU (the kernel's SIGKILL)
// after its CPU second, however long the deadline.
func TestCPULimit(t *testing.T) {
	t.Parallel()
	// One second: init and workspace creation need a fraction of it.
	e := newTestEngine(t, "", func(c *Config) { c.CPULimit = time.Second })
	le, took := planLimited(t, e, hostileProject("cpu", cpuBomb), LimitCPU)
	if le.Value != "1s" || le.Op != "plan" {
		t.Errorf("limit %+v, want 1s on plan", le)
	}
	// Init, workspace and plan take seconds of wall clock on a loaded
	// machine; the bomb would run for many minutes, up to the 10-minute
	// deadline.
	if took > time.Minute {
		t.Errorf("plan took %s to be stopped by a 1 s CPU limit", took)
	}
}

// TestMemoryLimit: the memory bomb fails under RLIMIT_AS, and sampling
// /proc while it runs shows terraform never had more address space than
// the limit.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	const limitMB = 2048
	e := newTestEngine(t, "", func(c *Config) { c.MemoryLimitMB = limitMB })
	p := hostileProject("memory", memoryBomb)
	stop := make(chan struct{})
	var (
		wg      sync.WaitGroup
		peak    procMemory
		samples int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if m, ok := processMemoryIn(e.workdir(p))["terraform"]; ok {
				peak.VmPeakKB = max(peak.VmPeakKB, m.VmPeakKB)
				peak.VmHWMKB = max(peak.VmHWMKB, m.VmHWMKB)
				samples++
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	le, _ := planLimited(t, e, p, LimitMemory)
	close(stop)
	// The log keeps terraform's last words, not its stack dump.
	if tail := le.Cmd.LogTail; !strings.Contains(tail, "fatal error: out of memory") ||
		!strings.Contains(tail, "stack dump left out") || strings.Contains(tail, "goroutine ") {
		t.Errorf("log tail:\n%s", tail)
	}
	wg.Wait()
	t.Logf("%d samples of terraform processes: peak address space %d MB, peak resident %d MB (limit %d MB)",
		samples, peak.VmPeakKB>>10, peak.VmHWMKB>>10, limitMB)
	if samples == 0 {
		t.Fatal("no terraform process was sampled")
	}
	if peak.VmPeakKB > limitMB<<10 {
		t.Errorf("terraform reached %d MB of address space, over the %d MB limit", peak.VmPeakKB>>10, limitMB)
	}
	if peak.VmHWMKB < 200<<10 {
		t.Errorf("peak resident %d MB: the bomb did not allocate, the test proves nothing", peak.VmHWMKB>>10)
	}
}

type procMemory struct{ VmPeakKB, VmHWMKB int }

// processMemoryIn reads the memory figures of every process whose working
// directory is dir (terraform and its providers), by process name.
func processMemoryIn(dir string) map[string]procMemory {
	out := map[string]procMemory{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil || cwd != dir {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		var m procMemory
		name := e.Name()
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			switch k {
			case "Name":
				name = v
			case "VmPeak":
				m.VmPeakKB, _ = strconv.Atoi(v)
			case "VmHWM":
				m.VmHWMKB, _ = strconv.Atoi(v)
			}
		}
		out[name] = m
	}
	return out
}

// assertNoProcesses: a stopped terraform, and the providers it started, do
// not outlive the operation.
func assertNoProcesses(t *testing.T, workdir string) {
	t.Helper()
	if left := processMemoryIn(workdir); len(left) > 0 {
		t.Errorf("processes still running in %s after the operation returned: %v", workdir, left)
	}
}
