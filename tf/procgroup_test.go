package tf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantform/tenantform/tf/supervisor"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// hangMirror is a filesystem mirror holding one provider,
// example.com/tenantform/hang, which never completes the plugin handshake:
// a plan using it blocks in terraform with the provider running (as
// `sleep`), until terraform gives up after a minute.
func hangMirror(t *testing.T) string {
	t.Helper()
	mirror := t.TempDir()
	dir := filepath.Join(mirror, "example.com", "tenantform", "hang", "1.0.0", "linux_amd64")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeScript(t, dir, "terraform-provider-hang_v1.0.0", "exec sleep 300\n")
	return mirror
}

// hangProject uses the hanging provider (the policy, which would refuse
// the provider, is switched off in these tests).
func hangProject() Project {
	return Project{UserID: "ivan", ProjectID: "hang", Region: "us-east-1", Files: map[string]string{"main.tf": `
terraform {
  required_providers {
    hang = { source = "example.com/tenantform/hang", version = "1.0.0" }
  }
}
provider "hang" {}
`}}
}

// engineProcessEnv asks the test binary to be an engine process planning
// hangProject (TestEngineProcess).
const engineProcessEnv = "TENANTFORM_TEST_ENGINE_PROCESS"

type engineProcessSpec struct {
	WorkRoot, DB, Mirror string
	// Supervisor is Config.SupervisorPath ("": this binary re-executed).
	Supervisor string
}

// TestEngineProcess is not a test: run by the tests below as a separate
// process (the reconciler they kill), it plans hangProject and blocks.
func TestEngineProcess(t *testing.T) {
	raw := os.Getenv(engineProcessEnv)
	if raw == "" {
		t.Skip("only run as a child of the process group tests")
	}
	var spec engineProcessSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, spec.DB, func(c *Config) {
		c.WorkRoot = spec.WorkRoot
		c.FilesystemMirror = spec.Mirror
		c.StopGrace = time.Second
		c.skipPolicy = true
		c.SupervisorPath = spec.Supervisor
	})
	_, err := e.Plan(testContext(t), hangProject(), nil)
	t.Fatalf("the plan returned: %v", err)
}

// startEngineProcess starts TestEngineProcess and waits until its
// provider runs; it returns the engine process.
func startEngineProcess(t *testing.T, workRoot string) *exec.Cmd {
	return startEngineProcessWith(t, workRoot, "")
}

// startEngineProcessWith is startEngineProcess with the given supervisor
// binary ("": the engine re-executes itself).
func startEngineProcessWith(t *testing.T, workRoot, supervisor string) *exec.Cmd {
	t.Helper()
	spec, _ := json.Marshal(engineProcessSpec{WorkRoot: workRoot, DB: newTestDatabase(t), Mirror: hangMirror(t), Supervisor: supervisor})
	cmd := exec.Command(os.Args[0], "-test.run=^TestEngineProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), engineProcessEnv+"="+string(spec))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		for _, p := range markedProcesses(workRoot) {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	})
	start := time.Now()
	defer func() { t.Logf("the provider started after %s", time.Since(start)) }()
	waitFor(t, 2*time.Minute, "the provider to start", func() bool {
		for _, p := range markedProcesses(workRoot) {
			if p.comm == "sleep" {
				return true
			}
		}
		return false
	}, &out)
	return cmd
}

// markedProcess is a process carrying the owner marker of a work root.
type markedProcess struct {
	pid, ppid int
	comm      string
}

func (p markedProcess) String() string {
	return fmt.Sprintf("%d(%s, parent %d)", p.pid, p.comm, p.ppid)
}

// markedProcesses lists the live (not zombie) processes carrying the
// owner marker of workRoot, whatever their owner.
func markedProcesses(workRoot string) []markedProcess {
	prefix := []byte(ownerEnv + "=" + workRootDigest(workRoot) + ".")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []markedProcess
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(env, prefix) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			continue
		}
		st, err := supervisor.ReadProcStat(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(d, "comm"))
		out = append(out, markedProcess{pid: st.Pid, ppid: st.Ppid, comm: strings.TrimSpace(string(comm))})
	}
	return out
}

// waitFor polls cond until it holds or timeout passes (a condition, not a
// duration: the machine may be slow).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; engine process output:\n%s", what, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKilledEngineLeavesNoProcess: a reconciler killed with SIGKILL while
// terraform runs a provider leaves nothing behind: its supervisor stops
// the whole group (terraform and the provider) within StopGrace. With
// either supervisor: the separate binary and this one re-executed.
func TestKilledEngineLeavesNoProcess(t *testing.T) {
	t.Parallel()
	for name, supervisor := range map[string]string{"this binary": "", SupervisorBinary: buildSupervisor(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			killedEngineLeavesNoProcess(t, supervisor)
		})
	}
}

func killedEngineLeavesNoProcess(t *testing.T, supervisor string) {
	workRoot := t.TempDir()
	engine := startEngineProcessWith(t, workRoot, supervisor)
	before := markedProcesses(workRoot)
	killed := time.Now()
	engine.Process.Signal(syscall.SIGKILL)
	engine.Wait()
	var left []markedProcess
	deadline := time.Now().Add(time.Second + supervisorSlack + 10*time.Second) // StopGrace, slack, a loaded machine
	for {
		if left = markedProcesses(workRoot); len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("processes outlived the killed engine: %v (running before the kill: %v)", left, before)
	}
	t.Logf("%v ended %s after the engine was killed", before, time.Since(killed))
}

// TestStartEndsLeftovers: when the supervisor dies with the reconciler
// (both killed at once), the provider is orphaned; the next engine on the
// same work root ends it at start, and only it.
func TestStartEndsLeftovers(t *testing.T) {
	t.Parallel()
	workRoot := t.TempDir()
	engine := startEngineProcess(t, workRoot)
	// The supervisors are the marked processes of that name (either
	// binary sets it).
	for _, p := range markedProcesses(workRoot) {
		if p.comm == "tf-supervisor" {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	engine.Process.Signal(syscall.SIGKILL)
	engine.Wait()
	var orphans []markedProcess
	waitFor(t, 10*time.Second, "terraform to die with its supervisor", func() bool {
		orphans = markedProcesses(workRoot)
		for _, p := range orphans {
			if p.comm != "sleep" {
				return false
			}
		}
		return len(orphans) > 0
	}, &bytes.Buffer{})

	// Bystanders: the same work root's marker of a live engine (this
	// process), another work root's marker of a dead engine, no marker.
	liveOwner, err := ownerMarker(workRoot)
	if err != nil {
		t.Fatal(err)
	}
	bystanders := map[string]*exec.Cmd{
		"live engine":    startSleep(t, ownerEnv+"="+liveOwner),
		"other workroot": startSleep(t, ownerEnv+"="+workRootDigest(workRoot+"x")+".1.1"),
		"no marker":      startSleep(t),
	}
	// And a process of a dead engine started at another time under this
	// process's pid: ended too.
	reused := startSleep(t, ownerEnv+"="+workRootDigest(workRoot)+"."+strconv.Itoa(os.Getpid())+".1")

	core, logs := observer.New(zap.InfoLevel)
	newTestEngine(t, "postgres://u:p@127.0.0.1:1/unused", func(c *Config) {
		c.WorkRoot = workRoot
		c.Logger = zap.New(core)
	})
	if left := markedProcesses(workRoot); len(left) != 1 || left[0].pid != bystanders["live engine"].Process.Pid {
		t.Errorf("after start, marked processes %v; want only the live engine's %d (orphans were %v)", left, bystanders["live engine"].Process.Pid, orphans)
	}
	if err := reused.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the dead engine's process under a reused pid: %v, want killed", err)
	}
	for name, cmd := range bystanders {
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			t.Errorf("%s: was killed", name)
		}
	}
	if logs.FilterMessage("ended terraform processes a killed predecessor left running").Len() != 1 {
		t.Errorf("no log of the ended processes: %v", logs.All())
	}
}

func startSleep(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}
