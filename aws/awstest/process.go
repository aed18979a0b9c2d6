package awstest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tenantform/tenantform/tf/supervisor"
)

// GoBuild builds the main package pkg (an import path, or a directory
// relative to the test's package) into dir/name, with the build tags
// given, for tests that run this repository's binaries as processes.
func GoBuild(t testing.TB, dir, pkg, name string, tags ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	if b, err := exec.Command("go", append(args, pkg)...).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// BuildTenantform builds tenantform into dir as it is deployed: with the
// terraform supervisor's binary beside it, where the engine looks for it.
// It returns tenantform's path.
func BuildTenantform(t testing.TB, dir string, tags ...string) string {
	t.Helper()
	bin := GoBuild(t, dir, "github.com/tenantform/tenantform/cmd/tenantform", "tenantform", tags...)
	GoBuild(t, dir, "github.com/tenantform/tenantform/cmd/tenantform-tf-supervisor", supervisor.Binary)
	return bin
}

// CleanEnv is this process's environment without the variables a test
// of tenantform's processes sets itself: AWS's, terraform's, tenantform's
// (TENANTFORM_*) and its settings read from the environment
// (DATABASE_URL, JWT_SECRET, PORT, METRICS_PORT, ORPHAN_CLEANUP), and
// TF_CLI_CONFIG_FILE (tenantform writes its own); keep names variables to
// pass on all the same (TF_PATH, to run the terraform the machine has).
func CleanEnv(keep ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		drop := strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "TF_") || strings.HasPrefix(name, "TENANTFORM_") ||
			slices.Contains([]string{"DATABASE_URL", "JWT_SECRET", "PORT", "METRICS_PORT", "ORPHAN_CLEANUP"}, name)
		if !drop || slices.Contains(keep, name) {
			out = append(out, kv)
		}
	}
	return out
}

// StartProcess runs a binary built from aws/awstest/cmd/emulator as a
// process of its own and returns its URL, for tests that kill and restart
// everything around the emulator (the crash suite) or measure a
// reconciler's own process (the steady-state benchmark). It stops when
// the test ends: its stdin, held by this process, closes.
func StartProcess(t testing.TB, bin string) string {
	t.Helper()
	cmd := exec.Command(bin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the emulator did not start: %v", err)
	}
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "EMULATOR_URL=")
	if !ok {
		t.Fatalf("the emulator said %q", line)
	}
	go io.Copy(io.Discard, stdout)
	return u
}
