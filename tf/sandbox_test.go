package tf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// requireLandlock skips where the kernel has no Landlock (CI's kernel has).
func requireLandlock(t *testing.T) {
	t.Helper()
	if abi, err := LandlockABI(); abi < MinSandboxABI {
		t.Skipf("kernel Landlock ABI %d (%v): the sandbox needs %d", abi, err, MinSandboxABI)
	}
}

// probeProject reads, with the static policy switched off, what a tenant
// must never read: another project's workdir, the server's environment
// (/proc/<tenantform pid>/environ) and tenantform's data directory. Each
// read is wrapped in try() so that the outputs say which succeeded, and
// one read of its own file shows the project itself still works.
func probeProject() Project {
	return Project{UserID: "mallory", ProjectID: "probe", Region: "us-east-1", Files: map[string]string{"main.tf": fmt.Sprintf(`
output "own" {
  value = try(file("${path.module}/main.tf"), "DENIED")
}
output "other_workdir" {
  value = try(file("${path.cwd}/../alice_site/terraform.tfvars"), "DENIED")
}
output "server_environ" {
  value = try(filebase64("/proc/%d/environ"), "DENIED")
}
output "data_dir" {
  value = try(file("${path.cwd}/../../tenantform.key"), "DENIED")
}
`, os.Getpid())}}
}

// probeOutputs runs probeProject on an engine whose work root is
// DATA/terraform, next to a victim's workdir and a data-directory secret.
func probeOutputs(t *testing.T, mode SandboxMode) map[string]any {
	dataDir := t.TempDir()
	workRoot := filepath.Join(dataDir, "terraform")
	if err := os.MkdirAll(filepath.Join(workRoot, WorkspaceName("alice", "site")), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(workRoot, WorkspaceName("alice", "site"), "terraform.tfvars"), []byte(`db_password = "alice-secret"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "tenantform.key"), []byte("data-dir-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, "", func(c *Config) {
		c.WorkRoot = workRoot
		c.Sandbox = mode
		c.skipPolicy = true
	})
	p := probeProject()
	plan := mustPlan(t, e, p, nil)
	mustApply(t, e, p, plan, nil)
	outs, err := e.Outputs(testContext(t), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// TestSandboxAloneStopsFileProbes: with the upload policy switched off,
// the probes read everything unsandboxed (so they are real reads), and
// nothing but the project's own file under the sandbox.
func TestSandboxAloneStopsFileProbes(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		outs := probeOutputs(t, SandboxOff)
		if !strings.Contains(fmt.Sprint(outs["own"]), "output \"own\"") {
			t.Errorf("own file: %v", outs["own"])
		}
		if outs["other_workdir"] != `db_password = "alice-secret"` {
			t.Errorf("unsandboxed, the other workdir's file should be readable: %v", outs["other_workdir"])
		}
		if outs["data_dir"] != "data-dir-secret" {
			t.Errorf("unsandboxed, the data directory should be readable: %v", outs["data_dir"])
		}
		if s, _ := outs["server_environ"].(string); s == "DENIED" || s == "" {
			t.Errorf("unsandboxed, the server's environment should be readable: %v", outs["server_environ"])
		}
	})
	t.Run("require", func(t *testing.T) {
		t.Parallel()
		outs := probeOutputs(t, SandboxRequire)
		if !strings.Contains(fmt.Sprint(outs["own"]), "output \"own\"") {
			t.Errorf("the sandbox must let a project read its own files: %v", outs["own"])
		}
		for _, name := range []string{"other_workdir", "server_environ", "data_dir"} {
			if outs[name] != "DENIED" {
				t.Errorf("sandboxed, %s was read: %.80v", name, outs[name])
			}
		}
	})
}

// TestSandboxModes: the start log says whether the sandbox is active; on a
// kernel without Landlock (the probe injected), auto starts with the
// sandbox off and says so, require refuses to start, and off never probes.
func TestSandboxModes(t *testing.T) {
	t.Parallel()
	noLandlock := func() (int, error) { return 0, syscall.EOPNOTSUPP }
	oldKernel := func() (int, error) { return 3, nil }
	withLandlock := func() (int, error) { return 7, nil }
	cases := []struct {
		mode       SandboxMode
		probe      func() (int, error)
		wantErr    string
		wantActive bool
		wantLog    string
	}{
		{mode: "", probe: withLandlock, wantActive: true, wantLog: "terraform sandbox active"},
		{mode: SandboxAuto, probe: noLandlock, wantLog: "terraform sandbox off: the kernel does not support Landlock"},
		{mode: SandboxAuto, probe: oldKernel, wantLog: "terraform sandbox off: the kernel does not support Landlock"},
		{mode: SandboxRequire, probe: noLandlock, wantErr: "TF_SANDBOX=require but the kernel has no usable Landlock (operation not supported)"},
		{mode: SandboxRequire, probe: oldKernel, wantErr: "TF_SANDBOX=require but the kernel's Landlock ABI is 3"},
		{mode: SandboxRequire, probe: withLandlock, wantActive: true, wantLog: "terraform sandbox active"},
		{mode: SandboxOff, probe: func() (int, error) { t.Error("off probed the kernel"); return 7, nil }, wantLog: "terraform sandbox off (TF_SANDBOX=off)"},
		{mode: "on", probe: withLandlock, wantErr: `sandbox mode "on": want auto, require or off`},
	}
	bin := terraformBinary(t)
	for _, c := range cases {
		core, logs := observer.New(zap.InfoLevel)
		e, err := New(Config{
			BinaryPath: bin, WorkRoot: t.TempDir(), PGConnStr: "postgres://u:p@127.0.0.1:5433/db",
			Sandbox: c.mode, sandboxProbe: c.probe, Logger: zap.New(core),
		})
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: err = %v, want %q", c.mode, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.mode, err)
			continue
		}
		if e.SandboxActive() != c.wantActive {
			t.Errorf("%q: active = %v, want %v", c.mode, e.SandboxActive(), c.wantActive)
		}
		if logs.FilterMessageSnippet(c.wantLog).Len() != 1 {
			t.Errorf("%q: no start log %q in %v", c.mode, c.wantLog, logs.All())
		}
		if c.wantActive && fmt.Sprint(e.sandboxPorts) != "[443 5433]" {
			t.Errorf("%q: ports %v, want 443 and the database's", c.mode, e.sandboxPorts)
		}
	}
}

func TestSandboxPorts(t *testing.T) {
	for _, c := range []struct {
		pg, aws string
		want    string
	}{
		{"postgres://u:p@db.internal/x", "", "[443 5432]"},
		{"host=/var/run/postgresql dbname=x", "", "[443]"},
		{"postgres://u:p@a:6432,b:6433/x", "http://127.0.0.1:4566", "[443 4566 6432 6433]"},
		{"postgres://u:p@a/x", "http://localhost", "[80 443 5432]"},
		{"postgres://u:p@a/x", "https://aws.example:8443/", "[443 5432 8443]"},
	} {
		got, err := sandboxPorts(c.pg, c.aws)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("%s %s: %v %v, want %s", c.pg, c.aws, got, err, c.want)
		}
	}
	if _, err := sandboxPorts("postgres://u:p@a/x", "http://h:port/"); err == nil {
		t.Error("a bad endpoint URL was accepted")
	}
}
