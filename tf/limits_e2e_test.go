//go:build e2e

package tf

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The aws provider is 700 MB: these tests install it from the filesystem
// mirror (TF_PROVIDER_MIRROR, default /opt/tf-plugins) and are slow.

func awsMirror(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TF_PROVIDER_MIRROR")
	if dir == "" {
		dir = "/opt/tf-plugins"
	}
	if _, err := os.Stat(filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws")); err != nil {
		t.Skipf("no aws provider in the mirror %s", dir)
	}
	return dir
}

// startMoto runs moto_server (the AWS emulator) on a free port.
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return fmt.Sprintf("http://127.0.0.1:%d", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("moto_server did not start")
	return ""
}

var motoCreds = &Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}

// TestAWSProviderUnderDefaultLimits: a real aws project plans and applies
// under the default limits, and /proc shows how much of them the provider
// uses.
func TestAWSProviderUnderDefaultLimits(t *testing.T) {
	mirror := awsMirror(t)
	endpoint := startMoto(t)
	e := newTestEngine(t, "", func(c *Config) {
		c.FilesystemMirror = mirror
		c.AWSEndpointURL = endpoint
	})
	p := awsProject()
	p.Files = map[string]string{"main.tf": `
resource "aws_s3_bucket" "site" { bucket = "limits-site" }
resource "aws_dynamodb_table" "t" {
  name         = "limits-t"
  hash_key     = "id"
  billing_mode = "PAY_PER_REQUEST"
  attribute {
    name = "id"
    type = "S"
  }
}
`}
	stop := make(chan struct{})
	var (
		wg   sync.WaitGroup
		peak = map[string]procMemory{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for name, m := range processMemoryIn(e.workdir(p)) {
				old := peak[name]
				peak[name] = procMemory{max(old.VmPeakKB, m.VmPeakKB), max(old.VmHWMKB, m.VmHWMKB)}
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	plan := mustPlan(t, e, p, motoCreds)
	mustApply(t, e, p, plan, motoCreds)
	close(stop)
	wg.Wait()
	for name, m := range peak {
		t.Logf("%s: peak address space %d MB, peak resident %d MB (limit %d MB)", name, m.VmPeakKB>>10, m.VmHWMKB>>10, e.cfg.MemoryLimitMB)
		if m.VmPeakKB > e.cfg.MemoryLimitMB<<10 {
			t.Errorf("%s exceeded the memory limit", name)
		}
	}
	if len(peak) < 2 {
		t.Errorf("sampled %v, want terraform and its aws provider", peak)
	}
	res, err := e.StateResources(testContext(t), p, motoCreds)
	if err != nil || len(res) != 2 {
		t.Errorf("state = %v, %v", res, err)
	}
}

// TestDeadlineKillsProviders: a plan hanging in the aws provider (its
// endpoint accepts connections and never answers) is stopped at the
// deadline; when terraform does not stop within StopGrace it is killed,
// and so are the providers it started.
func TestDeadlineKillsProviders(t *testing.T) {
	mirror := awsMirror(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	db := newTestDatabase(t)
	root := t.TempDir()
	configure := func(timeout time.Duration) func(*Config) {
		return func(c *Config) {
			c.WorkRoot = root
			c.FilesystemMirror = mirror
			c.AWSEndpointURL = "http://" + l.Addr().String()
			c.OperationTimeout = timeout
			c.StopGrace = 100 * time.Millisecond
		}
	}
	p := awsProject()
	// Install the provider first, with all the time it needs.
	if _, err := newTestEngine(t, db, configure(5*time.Minute)).StateResources(testContext(t), p, motoCreds); err != nil {
		t.Fatal(describe(err))
	}
	e := newTestEngine(t, db, configure(8*time.Second))
	start := time.Now()
	_, err = e.Plan(testContext(t), p, motoCreds)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitDeadline {
		t.Fatalf("err = %s, want the deadline", describe(err))
	}
	t.Logf("stopped after %s: %v", time.Since(start), err)
	time.Sleep(200 * time.Millisecond) // the kernel delivers SIGKILL asynchronously
	assertNoProcesses(t, e.workdir(p))
}

// TestDeadlineCPUBomb: the real CPU bomb, with a CPU limit too high to
// stop it, is stopped at the operation deadline: terraform does not react
// to SIGINT while it evaluates, so it is killed StopGrace later.
func TestDeadlineCPUBomb(t *testing.T) {
	e := newTestEngine(t, "", func(c *Config) {
		c.OperationTimeout = 4 * time.Second
		c.StopGrace = time.Second
	})
	le, took := planLimited(t, e, hostileProject("slow", cpuBomb), LimitDeadline)
	if le.Value != "4s" {
		t.Errorf("limit value %q, want 4s", le.Value)
	}
	if took < e.cfg.OperationTimeout || took > e.cfg.OperationTimeout+e.cfg.StopGrace+5*time.Second {
		t.Errorf("plan returned after %s; want the deadline (%s) plus at most the grace period", took, e.cfg.OperationTimeout)
	}
}

// TestDeadline: an operation past OperationTimeout gets SIGINT, then is
// killed (with what it started) StopGrace later, and reports the
// deadline, not a cancellation. The "terraform" here is a real one for
// every command but plan, which ignores SIGINT and sleeps: a CPU-free
// stand-in for the CPU bomb, which TestDeadlineCPUBomb (e2e) runs.
func TestDeadline(t *testing.T) {
	t.Parallel()
	real := terraformBinary(t)
	marks := t.TempDir()
	hang := writeScript(t, t.TempDir(), "terraform", `
if [ "$1" != plan ]; then exec "`+real+`" "$@"; fi
trap 'echo INT >> "`+marks+`/signals"' INT
sleep 600 &
echo $! > "`+marks+`/child"
while :; do sleep 0.1; done
`)
	db, root := newTestDatabase(t), t.TempDir()
	configure := func(timeout time.Duration) func(*Config) {
		return func(c *Config) {
			c.WorkRoot = root
			c.BinaryPath = hang
			c.sandboxExtraRW = []string{marks}
			c.OperationTimeout = timeout
			c.StopGrace = 500 * time.Millisecond
		}
	}
	// Init first, with all the time it needs on a loaded machine (the
	// state listing of a project without a workspace runs init alone);
	// the 8 s below are for creating the workspace's row and starting the
	// plan.
	p := hostileProject("slow", cpuBomb)
	if _, err := newTestEngine(t, db, configure(5*time.Minute)).StateResources(testContext(t), p, nil); err != nil {
		t.Fatal(describe(err))
	}
	e := newTestEngine(t, db, configure(8*time.Second))
	le, took := planLimited(t, e, p, LimitDeadline)
	if le.Value != "8s" {
		t.Errorf("limit value %q, want 8s", le.Value)
	}
	if took < e.cfg.OperationTimeout || took > e.cfg.OperationTimeout+e.cfg.StopGrace+5*time.Second {
		t.Errorf("plan returned after %s; want the deadline (%s) plus at most the grace period", took, e.cfg.OperationTimeout)
	}
	if sigs, _ := os.ReadFile(filepath.Join(marks, "signals")); !strings.Contains(string(sigs), "INT") {
		t.Error("terraform was not sent SIGINT before being killed")
	}
	// What "terraform" started is killed with it.
	child, _ := os.ReadFile(filepath.Join(marks, "child"))
	pid := strings.TrimSpace(string(child))
	time.Sleep(100 * time.Millisecond) // SIGKILL is delivered asynchronously
	if st, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
		t.Errorf("the process terraform started (pid %s) outlived it: %s", pid, st)
	}
}

// TestOutputLimit: a configuration whose plan prints more than
// OutputLimitBytes is stopped at the limit: `show -json` prints the plan
// as one line, which the engine reads in chunks, never whole.
func TestOutputLimit(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "", func(c *Config) {
		c.OutputLimitBytes = 256 << 10
		c.StopGrace = time.Minute
	})
	le, took := planLimited(t, e, hostileProject("output", outputBomb), LimitOutput)
	// A flood is killed at once, not after the grace period a state lock
	// holder gets.
	if took > 30*time.Second {
		t.Errorf("plan returned %s after it started; the flood was not killed at once", took)
	}
	if le.Op != "show" {
		t.Errorf("stopped command %q, want show (the plan's JSON holds the value)", le.Op)
	}
	if le.Cmd == nil || len(le.Cmd.LogTail) > e.cfg.LogTailBytes+1024 {
		t.Errorf("the limit error keeps no bounded log tail: %+v", le.Cmd)
	}
}
