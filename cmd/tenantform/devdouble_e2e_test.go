//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// demoLimit bounds each step of the offline demo (Ready, gone) on a loaded
// machine; unloaded, each takes seconds.
const demoLimit = 3 * time.Minute

// readmeAWSExample is the README's dev session against the emulator: the
// command, the PUT's path and body, and the bucket whose tags it reads.
type readmeAWSExample struct {
	devArgs     []string
	projectPath string
	body        string
	bucket      string
}

func readReadmeAWSExample(t *testing.T) readmeAWSExample {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "**A dev session against the emulator.**")
	if i < 0 {
		t.Fatal("README.md has no paragraph \"A dev session against the emulator\"")
	}
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(s[i:])
	if block == nil {
		t.Fatal("the README's AWS example has no sh block")
	}
	var ex readmeAWSExample
	if m := regexp.MustCompile(`(?m)^go run -tags emulator \./cmd/tenantform (dev .*)$`).FindStringSubmatch(block[1]); m != nil {
		ex.devArgs = strings.Fields(m[1])
	}
	if m := regexp.MustCompile(`curl -sS -X PUT \$API(\S+)`).FindStringSubmatch(block[1]); m != nil {
		ex.projectPath = m[1]
	}
	if m := regexp.MustCompile(`(?m)^\s*-d '([^']*)'`).FindStringSubmatch(block[1]); m != nil {
		ex.body = m[1]
	}
	if m := regexp.MustCompile(`get-bucket-tagging --bucket (\S+)`).FindStringSubmatch(block[1]); m != nil {
		ex.bucket = m[1]
	}
	if ex.devArgs == nil || ex.projectPath == "" || ex.body == "" || ex.bucket == "" {
		t.Fatalf("cannot read the README's AWS example (%+v) from:\n%s", ex, block[1])
	}
	return ex
}

// bannerBuffer keeps what a process printed, for reading while it runs.
type bannerBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *bannerBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *bannerBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOfflineAWSDemo is the README's AWS example on a machine without the
// real hashicorp/aws (TF_PROVIDER_MIRROR names an empty directory, and
// there is no network for the registry): the emulator build, started
// as the README says, serves its own test double of the provider; the
// example's PUT creates the bucket with the six platform tags in the
// emulator the banner names; every run's log names the double; DELETE
// removes the bucket. Against the built binary, as a process. It tests
// the double on purpose, so TENANTFORM_REQUIRE_REAL_AWS_PROVIDER does not
// apply.
func TestOfflineAWSDemo(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_PATH") == "" {
		t.Skip("needs terraform >= 1.5 on PATH or TF_PATH (.ci/run installs one)")
	}
	ex := readReadmeAWSExample(t)
	bin := filepath.Join(t.TempDir(), "tenantform")
	if out, err := exec.Command("go", "build", "-tags", "emulator", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags emulator: %v\n%s", err, out)
	}
	// Reachable by PostgreSQL's unprivileged user when run as root (see
	// TestDevEndToEnd).
	dataDir, err := os.MkdirTemp("", "tenantform-demo-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	emptyMirror := t.TempDir()
	stderrPath := filepath.Join(t.TempDir(), "stderr.log")
	stderrFile, err := os.Create(stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderrFile.Close()

	cmd := exec.Command(bin, append(ex.devArgs, "--data-dir", dataDir)...)
	// METRICS_STATE_MAX_AGE=0s: the scrape below reads the figures then.
	cmd.Env = append(cleanEnv(), "PORT=0", "TF_PROVIDER_MIRROR="+emptyMirror, "METRICS_STATE_MAX_AGE=0s")
	cmd.Stderr = stderrFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	dumpLogs := func() {
		b, _ := os.ReadFile(stderrPath)
		t.Logf("tenantform dev stderr:\n%s", b)
	}
	var banner bannerBuffer
	apiURL, token := readBanner(t, io.TeeReader(stdout, &banner), done, dumpLogs)
	auth := "Bearer " + token

	// The banner says plainly which provider runs, and where the emulator is.
	m := regexp.MustCompile(`(?m)^\s*AWS\s+in-process emulator at (http://127\.0\.0\.1:\d+)$`).FindStringSubmatch(banner.String())
	if m == nil {
		t.Fatalf("the banner names no emulator:\n%s", banner.String())
	}
	emulatorURL := m[1]
	if !regexp.MustCompile(`(?m)^\s*Provider\s+` + regexp.QuoteMeta(providerDoubleNote)).MatchString(banner.String()) {
		t.Errorf("the banner does not say that the provider is the %s:\n%s", providerDoubleNote, banner.String())
	}

	s3c := s3.NewFromConfig(awssdk.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""),
	}, func(o *s3.Options) {
		o.BaseEndpoint = awssdk.String(emulatorURL)
		o.UsePathStyle = true
	})
	ctx := context.Background()

	project := apiURL + ex.projectPath
	start := time.Now()
	if code, resp := call(t, "PUT", project, auth, ex.body); code != http.StatusCreated {
		dumpLogs()
		t.Fatalf("PUT %s: %d %s", ex.projectPath, code, resp)
	}
	var p struct {
		UserID    string    `json:"userId"`
		ProjectID string    `json:"projectId"`
		CreatedAt time.Time `json:"createdAt"`
		Status    struct {
			Phase         string `json:"phase"`
			ResourceCount int    `json:"resourceCount"`
			LastError     string `json:"lastError"`
		} `json:"status"`
	}
	for {
		code, resp := call(t, "GET", project, auth, "")
		if code == http.StatusOK && json.Unmarshal(resp, &p) == nil && p.Status.Phase == "Ready" && p.Status.ResourceCount == 1 {
			break
		}
		if p.Status.Phase == "Failed" || time.Since(start) > demoLimit {
			dumpLogs()
			t.Fatalf("not Ready with one resource after %s: %d %s", time.Since(start).Round(time.Second), code, resp)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("PUT → Ready in %s", time.Since(start).Round(time.Millisecond))

	// deploy/prometheus/dev.yml's scrape works: its path, no token.
	scrape := readDevPrometheusConfig(t)
	resp, err := http.Get(apiURL + scrape.metricsPath)
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !regexp.MustCompile(`(?m)^tenantform_projects\{[^}]*phase="Ready"[^}]*\} 1$`).Match(metricsText) {
		t.Errorf("GET %s without a token (as deploy/prometheus/dev.yml scrapes): %d, want 200 with tenantform_projects{phase=\"Ready\"} 1:\n%.2000s",
			scrape.metricsPath, resp.StatusCode, metricsText)
	}

	tagging, err := s3c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: awssdk.String(ex.bucket)})
	if err != nil {
		t.Fatalf("GetBucketTagging %s on the emulator %s: %v", ex.bucket, emulatorURL, err)
	}
	got := map[string]string{}
	for _, tag := range tagging.TagSet {
		got[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
	}
	want := map[string]string{
		"ManagedBy":   "chart-app-platform",
		"UserId":      p.UserID,
		"ProjectId":   p.ProjectID,
		"Project":     "chart-app-" + p.UserID + "-" + p.ProjectID,
		"Environment": "development",
		"CreatedAt":   p.CreatedAt.UTC().Format(time.RFC3339),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tags of %s: %v, want the six platform tags %v", ex.bucket, got, want)
	}

	// Every run's log says which provider ran.
	checkRunLogs := func(wantRuns int) {
		t.Helper()
		code, resp := call(t, "GET", project+"/runs", auth, "")
		var runs struct {
			Items []struct {
				ID        int    `json:"id"`
				Operation string `json:"operation"`
			} `json:"items"`
		}
		if code != http.StatusOK || json.Unmarshal(resp, &runs) != nil || len(runs.Items) < wantRuns {
			t.Fatalf("runs: %d %s; want at least %d", code, resp, wantRuns)
		}
		for _, r := range runs.Items {
			code, resp := call(t, "GET", fmt.Sprintf("%s/runs/%d", project, r.ID), auth, "")
			var run struct {
				LogTail string `json:"logTail"`
			}
			if code != http.StatusOK || json.Unmarshal(resp, &run) != nil {
				t.Fatalf("run %d: %d %s", r.ID, code, resp)
			}
			if !strings.Contains(run.LogTail, providerDoubleNote) {
				t.Errorf("the log of run %d (%s) does not say %q:\n%s", r.ID, r.Operation, providerDoubleNote, run.LogTail)
			}
		}
	}
	checkRunLogs(2) // plan, apply

	start = time.Now()
	if code, resp := call(t, "DELETE", project, auth, ""); code != http.StatusAccepted {
		dumpLogs()
		t.Fatalf("DELETE: %d %s", code, resp)
	}
	for {
		code, resp := call(t, "GET", project, auth, "")
		if code == http.StatusGone {
			break
		}
		if time.Since(start) > demoLimit {
			dumpLogs()
			t.Fatalf("still there %s after DELETE: %d %s", demoLimit, code, resp)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("DELETE → 410 Gone in %s", time.Since(start).Round(time.Millisecond))
	checkRunLogs(3) // and the destroy (a deleted project's runs stay readable)
	var apiErr smithy.APIError
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: awssdk.String(ex.bucket)}); err == nil {
		t.Errorf("bucket %s is still in the emulator after the project was destroyed", ex.bucket)
	} else if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "NotFound" {
		t.Errorf("HeadBucket %s after the destroy: %v, want NotFound", ex.bucket, err)
	}

	// Where the kernel has Landlock, the double ran inside terraform's
	// sandbox: its mirror is one of the directories the sandbox lets read.
	if logs, _ := os.ReadFile(stderrPath); strings.Contains(string(logs), "terraform sandbox active") {
		t.Log("terraform and the provider double ran under the Landlock sandbox")
	} else {
		t.Log("terraform ran without the Landlock sandbox here")
	}
	// The terraform processes ran the private mirror's copy of this binary.
	if _, err := os.Stat(filepath.Join(dataDir, "aws-provider-double", "registry.terraform.io", "hashicorp", "aws")); err != nil {
		t.Errorf("no private provider mirror in the data directory: %v", err)
	}

	// Dev's engine took the double's mirror; reconcile, the same emulator
	// build with the same empty TF_PROVIDER_MIRROR, on dev's database,
	// keeps that setting (and so the platform's lock) and installs nothing.
	devTFRC, err := os.ReadFile(filepath.Join(dataDir, "terraform", ".tenantform.tfrc"))
	if err != nil || !strings.Contains(string(devTFRC), filepath.Join(dataDir, "aws-provider-double")) {
		t.Errorf("dev's terraform CLI configuration does not name the double's mirror (%v):\n%s", err, devTFRC)
	}
	reconcileKeepsTheConfiguredMirror(t, bin, dataDir, emptyMirror)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if waitErr != nil {
			dumpLogs()
			t.Fatalf("tenantform dev exited with %v after SIGTERM", waitErr)
		}
	case <-time.After(time.Minute):
		dumpLogs()
		t.Fatal("tenantform dev did not exit within a minute of SIGTERM")
	}
}

// reconcileKeepsTheConfiguredMirror starts `reconcile` from bin on dev's
// private PostgreSQL (in devDataDir) with TF_PROVIDER_MIRROR=mirror, waits
// for its engine's terraform CLI configuration and checks that it names
// mirror, not a double, and that nothing installed a double.
func reconcileKeepsTheConfiguredMirror(t *testing.T, bin, devDataDir, mirror string) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(devDataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	dbURL := fmt.Sprintf("postgres://tenantform:%s@127.0.0.1:%s/tenantform?sslmode=disable", read("pg-password"), read("pg-port"))
	recDir := t.TempDir()
	var stderr bannerBuffer
	rec := exec.Command(bin, "reconcile")
	rec.Env = append(cleanEnv(), "DATABASE_URL="+dbURL, "JWT_SECRET="+read("jwt-secret"), "TF_PROVIDER_MIRROR="+mirror, "TENANTFORM_DATA_DIR="+recDir,
		"TF_WORK_DIR="+filepath.Join(recDir, "terraform"), "METRICS_PORT=0")
	rec.Stderr = &stderr
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		rec.Wait()
		close(exited)
	}()
	defer func() {
		rec.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			rec.Process.Kill()
			<-exited
		}
	}()
	tfrc := filepath.Join(recDir, "terraform", ".tenantform.tfrc")
	start := time.Now()
	var b []byte
	for {
		var err error
		if b, err = os.ReadFile(tfrc); err == nil && len(b) > 0 {
			break
		}
		select {
		case <-exited:
			t.Fatalf("reconcile exited before it wrote %s:\n%s", tfrc, stderr.String())
		default:
		}
		if time.Since(start) > demoLimit {
			t.Fatalf("reconcile wrote no %s in %s:\n%s", tfrc, demoLimit, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(string(b), `"`+mirror+`"`) || strings.Contains(string(b), "aws-provider-double") {
		t.Errorf("reconcile's terraform CLI configuration does not name TF_PROVIDER_MIRROR (%s) alone:\n%s", mirror, b)
	}
	if found, _ := filepath.Glob(filepath.Join(recDir, "*", "aws-provider-double")); len(found) > 0 {
		t.Errorf("reconcile installed the provider double: %v", found)
	}
	if _, err := os.Stat(filepath.Join(recDir, "aws-provider-double")); err == nil {
		t.Error("reconcile installed the provider double in its data directory")
	}
	if strings.Contains(stderr.String(), providerDoubleNote) {
		t.Errorf("reconcile's log mentions the %s:\n%s", providerDoubleNote, stderr.String())
	}
}
