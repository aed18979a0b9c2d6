//go:build e2e

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/tf"
)

// TestContainmentEndToEnd runs the real binary, real terraform and a real
// PostgreSQL. User A submits two CPU bombs, a memory bomb and a
// prevent_destroy project; user B then submits one ordinary resource.
// B is Ready within 30 s, each bomb ends Failed with LimitExceeded within
// its deadline, no terraform process exceeds the memory limit, and
// deleting A's projects leaves nothing within 60 s.
func TestContainmentEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_PATH") == "" {
		t.Skip("needs terraform >= 1.5 on PATH or TF_PATH")
	}
	const (
		memoryLimitMB = 2048
		deadline      = 40 * time.Second
	)
	// The servers are child processes killed at the end: drop the
	// client's idle connections to them, or they outlive the test.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	// As deployed: the supervisor binary beside tenantform.
	binDir := t.TempDir()
	bin := awstest.BuildTenantform(t, binDir)
	dataDir, err := os.MkdirTemp("", "tenantform-containment-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	stderrPath := filepath.Join(t.TempDir(), "stderr.log")
	stderrFile, err := os.Create(stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderrFile.Close()
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir)
	cmd.Env = append(cleanEnv(), "PORT=0", "TF_CONCURRENCY=2", "MAX_WORKERS_PER_USER=1",
		"TF_OPERATION_TIMEOUT="+deadline.String(), "TF_CPU_LIMIT=20s", fmt.Sprintf("TF_MEMORY_LIMIT_MB=%d", memoryLimitMB))
	cmd.Stderr = stderrFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	dumpLogs := func() {
		b, _ := os.ReadFile(stderrPath)
		if len(b) > 64<<10 {
			b = b[len(b)-64<<10:]
		}
		t.Logf("tenantform dev stderr (tail):\n%s", b)
	}
	apiURL, _ := readBanner(t, stdout, done, dumpLogs)
	if b, _ := os.ReadFile(stderrPath); !strings.Contains(string(b), filepath.Join(binDir, tf.SupervisorBinary)+" (pinned: /proc/self/fd/") {
		dumpLogs()
		t.Fatalf("the start-up log does not name the pinned %s beside the binary", tf.SupervisorBinary)
	}
	tokens := map[string]string{}
	for _, user := range []string{"a", "b"} {
		out, err := exec.Command(bin, "token", "--user", user, "--data-dir", dataDir).Output()
		if err != nil {
			t.Fatalf("token for %s: %v", user, err)
		}
		tokens[user] = "Bearer " + strings.TrimSpace(string(out))
	}
	project := func(user, name string) string { return apiURL + "/api/v1/users/" + user + "/projects/" + name }
	put := func(user, name, mainTF string) (int, []byte) {
		body, _ := json.Marshal(map[string]any{"files": map[string]string{"main.tf": mainTF}})
		return call(t, "PUT", project(user, name), tokens[user], string(body))
	}

	// Sample the memory of every terraform process while the bombs run.
	var peakMu sync.Mutex
	peakKB := 0
	stopSampling := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for _, kb := range terraformRSS(dataDir) {
				peakMu.Lock()
				peakKB = max(peakKB, kb)
				peakMu.Unlock()
			}
		}
	}()

	cpuBomb := `locals { n = sum([for a in range(1024) : sum([for b in range(1024) : length([for c in range(1024) : c])])]) }
resource "terraform_data" "x" { input = local.n }`
	memBomb := `locals { n = length(indent(500000000, "a\nb")) }
resource "terraform_data" "x" { input = local.n }`
	bombs := map[string]string{"cpu1": cpuBomb, "cpu2": cpuBomb, "mem": memBomb}
	submitted := time.Now()
	for name, src := range bombs {
		if code, resp := put("a", name, src); code != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", name, code, resp)
		}
	}
	keep := `resource "terraform_data" "x" {
  lifecycle {
    prevent_destroy = true
  }
}`
	if code, resp := put("a", "keep", keep); code != http.StatusUnprocessableEntity || !strings.Contains(string(resp), "prevent_destroy") {
		t.Errorf("prevent_destroy: %d %s, want a 422 naming it", code, resp)
	}
	time.Sleep(500 * time.Millisecond) // A's bombs are claimed first
	bStart := time.Now()
	if code, resp := put("b", "victim", `resource "terraform_data" "x" { input = "ok" }`); code != http.StatusCreated {
		t.Fatalf("PUT victim: %d %s", code, resp)
	}
	waitPhase := func(user, name string, limit time.Duration, ok func(status map[string]any) bool) map[string]any {
		t.Helper()
		start := time.Now()
		for {
			code, resp := call(t, "GET", project(user, name), tokens[user], "")
			var p struct {
				Status map[string]any `json:"status"`
			}
			if code == http.StatusOK && json.Unmarshal(resp, &p) == nil && ok(p.Status) {
				return p.Status
			}
			if time.Since(start) > limit {
				dumpLogs()
				t.Fatalf("%s/%s: not there after %s; last: %d %s", user, name, limit, code, resp)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitPhase("b", "victim", 30*time.Second, func(s map[string]any) bool { return s["phase"] == "Ready" })
	t.Logf("B's project Ready %s after it was submitted, with A's bombs running", time.Since(bStart).Round(100*time.Millisecond))

	for name := range bombs {
		st := waitPhase("a", name, 3*deadline+30*time.Second, func(s map[string]any) bool { return s["phase"] == "Failed" })
		msg, _ := st["lastError"].(string)
		var reason string
		if conds, ok := st["conditions"].([]any); ok {
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
					reason, _ = m["reason"].(string)
				}
			}
		}
		if reason != "LimitExceeded" {
			t.Errorf("bomb %s ended %s (%s), want LimitExceeded", name, reason, msg)
		}
		t.Logf("bomb %s: Failed/%s %s after submission: %.120s", name, reason, time.Since(submitted).Round(time.Second), msg)
	}
	close(stopSampling)
	peakMu.Lock()
	t.Logf("peak resident memory of a terraform process: %d MB (limit %d MB of address space)", peakKB/1024, memoryLimitMB)
	if peakKB/1024 > memoryLimitMB {
		t.Errorf("a terraform process reached %d MB, over the %d MB limit", peakKB/1024, memoryLimitMB)
	}
	peakMu.Unlock()

	delStart := time.Now()
	for name := range bombs {
		if code, resp := call(t, "DELETE", project("a", name), tokens["a"], ""); code != http.StatusAccepted {
			t.Fatalf("DELETE %s: %d %s", name, code, resp)
		}
	}
	for name := range bombs {
		for {
			code, _ := call(t, "GET", project("a", name), tokens["a"], "")
			if code == http.StatusGone {
				break
			}
			if time.Since(delStart) > 60*time.Second {
				dumpLogs()
				t.Fatalf("%s still there 60 s after DELETE (%d)", name, code)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("every bomb gone %s after DELETE", time.Since(delStart).Round(100*time.Millisecond))
}

// terraformRSS returns the resident memory (kB) of every terraform process
// working under dir.
func terraformRSS(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmdline), "terraform") {
			continue
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err != nil || !strings.HasPrefix(cwd, dir) {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				if kb, err := strconv.Atoi(f[1]); err == nil {
					out = append(out, kb)
				}
			}
		}
	}
	return out
}
