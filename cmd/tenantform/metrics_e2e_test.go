//go:build e2e

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
)

// TestMetricsOfBothProcesses runs `serve` and `reconcile` as the Procfile
// does, takes projects into several phases, and scrapes both processes:
// promtool finds nothing to complain about in either, and the figures
// match the database.
func TestMetricsOfBothProcesses(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_PATH") == "" {
		t.Skip("needs terraform")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("TENANTFORM_REQUIRE_PROMTOOL") != "" {
			t.Fatal("promtool is required here but not installed")
		}
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	// The servers are child processes killed at the end: drop the
	// client's idle connections to them, or they outlive the test.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	bin := filepath.Join(t.TempDir(), "tenantform")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dbURL := storetest.NewDatabase(t)
	secret := strings.Repeat("k", 40)
	env := append(cleanEnv(), "DATABASE_URL="+dbURL, "JWT_SECRET="+secret, "PORT=0", "METRICS_PORT=0",
		// Figures read at the scrape, not up to a minute before.
		"METRICS_STATE_MAX_AGE=0s",
		"LOG_FORMAT=json", "MAX_RESOURCES_PER_USER=2", "TF_WORK_DIR="+t.TempDir(), "TENANTFORM_DATA_DIR="+t.TempDir())
	start := func(sub string) int {
		cmd := exec.Command(bin, sub)
		cmd.Env = env
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return listeningPort(t, sub, stderr)
	}
	apiPort := start("serve")
	metricsPort := start("reconcile")
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", apiPort)

	tokens := map[string]string{}
	for _, u := range []string{"alice", "bob"} {
		tok, err := api.SignToken([]byte(secret), u, false, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tokens[u] = "Bearer " + tok
	}
	put := func(user, name, files string) {
		t.Helper()
		code, resp := call(t, "PUT", apiURL+"/api/v1/users/"+user+"/projects/"+name, tokens[user], `{"files":`+files+`}`)
		if code != http.StatusCreated {
			t.Fatalf("PUT %s/%s: %d %s", user, name, code, resp)
		}
	}
	one := `{"main.tf":"resource \"terraform_data\" \"a\" {}"}`
	put("alice", "one", one)
	put("alice", "two", one)
	put("alice", "three", one) // over the quota of 2: Blocked
	// Failed at plan: the variable's own validation refuses its default (a
	// variable without any value is refused at the door, before a plan).
	put("bob", "novar", `{"main.tf":"variable \"n\" {\n  default = 1\n  validation {\n    condition     = var.n > 5\n    error_message = \"n must be over 5.\"\n  }\n}\nresource \"terraform_data\" \"a\" { input = var.n }"}`)

	st, err := store.Open(context.Background(), dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	phases := func() map[store.Phase]int {
		ps, _, err := st.ListProjects(context.Background(), store.ListOptions{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		out := map[store.Phase]int{}
		for _, p := range ps {
			out[p.Status.Phase]++
		}
		return out
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := phases()
		if got[store.PhaseReady] == 2 && got[store.PhaseBlocked] == 1 && got[store.PhaseFailed] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("phases %v after 90 s, want 2 Ready, 1 Blocked, 1 Failed", got)
		}
		time.Sleep(200 * time.Millisecond)
	}

	for name, url := range map[string]string{"serve": apiURL + "/metrics", "reconcile": fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		check := exec.Command(promtool, "check", "metrics")
		check.Stdin = strings.NewReader(string(body))
		if out, err := check.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("promtool check metrics on %s: %v\n%s", name, err, out)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		value := func(family string, labels map[string]string) float64 {
			f, ok := families[family]
			if !ok {
				t.Fatalf("%s exports no %s", name, family)
			}
		metric:
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
						continue metric
					}
				}
				if m.GetGauge() != nil {
					return m.GetGauge().GetValue()
				}
				return m.GetCounter().GetValue()
			}
			t.Fatalf("%s: no %s%v", name, family, labels)
			return 0
		}
		for phase, want := range map[string]float64{"Ready": 2, "Blocked": 1, "Failed": 1, "Pending": 0} {
			if got := value("tenantform_projects", map[string]string{"phase": phase}); got != want {
				t.Errorf("%s: tenantform_projects{phase=%q} = %v, want %v", name, phase, got, want)
			}
		}
		if got := value("tenantform_user_resources", map[string]string{"user": "alice"}); got != 2 {
			t.Errorf("%s: alice's resources = %v, want 2", name, got)
		}
		if got := value("tenantform_user_resource_quota", map[string]string{"user": "alice"}); got != 2 {
			t.Errorf("%s: alice's quota = %v, want 2", name, got)
		}
		if got := value("tenantform_project_estimated_monthly_cost_dollars", map[string]string{"user": "alice", "project": "one"}); got != 0 {
			t.Errorf("%s: cost of alice/one = %v, want 0", name, got)
		}
		if name == "reconcile" {
			if got := value("tenantform_reconciles_total", map[string]string{"result": "success"}); got < 3 {
				t.Errorf("reconcile: %v successful passes counted, want at least 3", got)
			}
		}
	}
}

// listeningPort reads a process's JSON logs until it says on which port it
// listens (the API, or the reconciler's metrics), then drains the rest.
func listeningPort(t *testing.T, name string, logs io.Reader) int {
	t.Helper()
	found := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(logs)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Port int    `json:"port"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Port > 0 &&
				(line.Msg == "API listening" || line.Msg == "metrics listening") {
				found <- line.Port
			}
		}
	}()
	select {
	case p := <-found:
		return p
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s did not say where it listens", name)
		return 0
	}
}
