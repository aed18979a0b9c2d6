//go:build e2e

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// convergeLimit is the promise of the reconciler issue: from the README's
// dev command, a terraform_data project is Ready, and once deleted gone,
// each in under 15 s.
const convergeLimit = 15 * time.Second

// TestDevEndToEnd runs the real binary the way the README says a newcomer
// does: `tenantform dev` with nothing configured. It takes a project
// through PUT → Ready → DELETE → 404 with the printed token, then stops the
// process with SIGTERM and checks that the private PostgreSQL went with it.
func TestDevEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs terraform")
	}
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_PATH") == "" {
		t.Skip("needs terraform >= 1.5 on PATH or TF_PATH (.ci/run installs one)")
	}
	bin := filepath.Join(t.TempDir(), "tenantform")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Directly under the temp dir, not t.TempDir(): as root, PostgreSQL runs
	// as an unprivileged user that must be able to reach the data directory,
	// and t.TempDir's parent is private (0700).
	dataDir, err := os.MkdirTemp("", "tenantform-dev-e2e-")
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
	cmd.Env = append(cleanEnv(), "PORT=0")
	cmd.Stderr = stderrFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// done is closed when the process has exited, with its status in
	// waitErr: both the test and its cleanup wait on it.
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill() // a no-op once it has exited
		<-done
	})
	dumpLogs := func() {
		b, _ := os.ReadFile(stderrPath)
		t.Logf("tenantform dev stderr:\n%s", b)
	}

	apiURL, token := readBanner(t, stdout, done, dumpLogs)
	pgPID := postmasterPID(t, dataDir)
	project := apiURL + "/api/v1/users/demo/projects/e2e"
	auth := "Bearer " + token

	// Ready, with one resource, in under 15 s.
	body := `{"files":{"main.tf":"resource \"terraform_data\" \"hello\" { input = \"world\" }"}}`
	start := time.Now()
	if code, resp := call(t, "PUT", project, auth, body); code != http.StatusCreated {
		dumpLogs()
		t.Fatalf("PUT: %d %s", code, resp)
	}
	var last string
	for {
		code, resp := call(t, "GET", project, auth, "")
		last = fmt.Sprintf("%d %s", code, resp)
		var p struct {
			Status struct {
				Phase         string `json:"phase"`
				ResourceCount int    `json:"resourceCount"`
			} `json:"status"`
		}
		if code == http.StatusOK && json.Unmarshal(resp, &p) == nil && p.Status.Phase == "Ready" && p.Status.ResourceCount == 1 {
			break
		}
		if time.Since(start) > convergeLimit {
			dumpLogs()
			t.Fatalf("not Ready with resourceCount 1 after %s; last GET: %s", convergeLimit, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("PUT → Ready (resourceCount 1) in %s", time.Since(start).Round(time.Millisecond))

	// Gone (404) in under 15 s.
	start = time.Now()
	if code, resp := call(t, "DELETE", project, auth, ""); code != http.StatusAccepted {
		dumpLogs()
		t.Fatalf("DELETE: %d %s", code, resp)
	}
	for {
		code, resp := call(t, "GET", project, auth, "")
		if code == http.StatusGone { // the tombstone of the destroyed project
			break
		}
		if time.Since(start) > convergeLimit {
			dumpLogs()
			t.Fatalf("still there %s after DELETE; last GET: %d %s", convergeLimit, code, resp)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("DELETE → 410 Gone in %s", time.Since(start).Round(time.Millisecond))

	// SIGTERM stops everything, the private PostgreSQL included.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if waitErr != nil {
			dumpLogs()
			t.Fatalf("tenantform dev exited with %v after SIGTERM", waitErr)
		}
	case <-time.After(40 * time.Second):
		dumpLogs()
		t.Fatal("tenantform dev did not exit within 40 s of SIGTERM")
	}
	if err := syscall.Kill(pgPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the private PostgreSQL (pid %d) is still running after tenantform exited (kill -0: %v)", pgPID, err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "pg", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid left behind (an unclean PostgreSQL shutdown): %v", err)
	}
}

// cleanEnv is this process's environment without tenantform's settings,
// so the child runs on dev mode's defaults as a newcomer's would, except
// for TF_PATH, which only says where terraform is.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "TF_PATH" && slices.Contains(envNames(), name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

var (
	bannerURL   = regexp.MustCompile(`^\s*API\s+(http://\S+)`)
	bannerToken = regexp.MustCompile(`^TOKEN=(\S+)$`)
)

// readBanner waits for dev mode's start-up banner and returns the API URL
// and the demo token it prints. Further output is drained so the process
// never blocks on a full pipe.
func readBanner(t *testing.T, stdout io.Reader, exited <-chan struct{}, dumpLogs func()) (apiURL, token string) {
	t.Helper()
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var u, tok string
		for sc.Scan() {
			if m := bannerURL.FindStringSubmatch(sc.Text()); m != nil {
				u = m[1]
			}
			if m := bannerToken.FindStringSubmatch(sc.Text()); m != nil {
				tok = m[1]
			}
			if u != "" && tok != "" {
				found <- [2]string{u, tok}
				u = "" // report once
			}
		}
	}()
	select {
	case got := <-found:
		return got[0], got[1]
	case <-exited:
		dumpLogs()
		t.Fatal("tenantform dev exited before it was ready")
	case <-time.After(2 * time.Minute):
		dumpLogs()
		t.Fatal("tenantform dev printed no URL and token within 2 minutes")
	}
	return "", ""
}

// postmasterPID is the pid of the private PostgreSQL, from its pid file.
func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "pg", "postmaster.pid"))
	if err != nil {
		t.Fatalf("the private PostgreSQL has no pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		t.Fatalf("bad postmaster.pid: %q", b)
	}
	return pid
}

func call(t *testing.T, method, url, auth, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
