package main

import (
	"bytes"
	"context"
	"encoding/json"
	"go.uber.org/goleak"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf/policy"
)

// TestMain fails the binary on leaked goroutines, except idle keep-alive
// connections of HTTP clients: the in-process serve and reconcile of the
// e2e tests build AWS SDK clients (whose default transport keeps idle
// connections to the instance metadata endpoint it probed) that the test
// cannot reach to close; and the goroutine the emulator library starts at
// init (the e2e tests build binaries through aws/awstest, which links it).
func TestMain(m *testing.M) {
	storetest.Main(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("github.com/sivchari/kumo/internal/service/dynamodb.(*MemoryStorage).ttlReaper"))
}

const cliTestSecret = "cli-test-secret-0123456789abcdef0123"

// cliEnv is a real API server (httptest) on a real store, and the client
// environment that points the CLI at it.
type cliEnv struct {
	t   *testing.T
	st  *store.Store
	url string
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	return newCLIEnvWith(t, nil)
}

// newCLIEnvWith lets configure adjust the API's configuration.
func newCLIEnvWith(t *testing.T, configure func(*api.Config)) *cliEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.NewMigratedDatabase(t, store.MigrateURL), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		JWTSecret:      []byte(cliTestSecret),
		DefaultRegion:  "us-east-1",
		AllowedRegions: []string{"us-east-1", "us-west-2"},
		Policy:         policy.DefaultRules(),
		Changes:        st,
	}
	if configure != nil {
		configure(&cfg)
	}
	srv := httptest.NewServer(api.New(cfg, st))
	t.Cleanup(func() {
		srv.Close()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	return &cliEnv{t: t, st: st, url: srv.URL}
}

func (e *cliEnv) token(user string, admin bool) string {
	e.t.Helper()
	tok, err := api.SignToken([]byte(cliTestSecret), user, admin, time.Hour, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// run runs `tenantform args...` in-process as the holder of token.
func (e *cliEnv) run(token string, args ...string) cliResult {
	var stdout, stderr syncBuffer
	code := run(args, &stdout, &stderr, env{"TENANTFORM_URL": e.url, "TENANTFORM_TOKEN": token, "HOME": "/h"}.get)
	return cliResult{code, stdout.String(), stderr.String()}
}

func (r cliResult) want(t *testing.T, code int, stdoutHas ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdoutHas {
		if !strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("output does not contain %q\nstdout: %s\nstderr: %s", s, r.stdout, r.stderr)
		}
	}
}

// writeTerraformDir writes a directory of .tf files (and one file apply
// must skip) and returns it.
func writeTerraformDir(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files["README.md"] = "not terraform"
	for n, content := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var demoFiles = map[string]string{
	"main.tf":      `resource "terraform_data" "a" { input = var.n }`,
	"variables.tf": `variable "n" { type = number }` + "\n" + `variable "label" { type = string }`,
}

func TestCLIProjectVerbs(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	alice := e.token("alice", false)
	ctx := t.Context()
	dir := writeTerraformDir(t, "demo", maps(demoFiles))

	// apply -f DIR: the directory's name is the project's, -var values
	// are JSON when they parse as JSON, --ttl takes a duration.
	e.run(alice, "projects", "apply", "-f", dir, "-var", "n=3", "-var", "label=web", "--ttl", "2h").
		want(t, 0, "project alice/demo created (generation 1)")
	p, err := e.st.GetProject(ctx, store.Key{UserID: "alice", ProjectID: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Spec.Variables["n"]) != "3" || string(p.Spec.Variables["label"]) != `"web"` || p.Spec.TTLMinutes != 120 {
		t.Errorf("stored spec: variables %s, ttl %d", p.Spec.Variables, p.Spec.TTLMinutes)
	}
	if _, ok := p.Spec.Files["README.md"]; ok || len(p.Spec.Files) != 2 {
		t.Errorf("files sent: %v", p.Spec.Files)
	}

	// get, in every format.
	e.run(alice, "projects", "get", "demo").want(t, 0, "NAME", "demo", "Pending", "0/1", "in 2h0m0s")
	got := e.run(alice, "projects", "get", "demo", "-o", "json")
	got.want(t, 0)
	var doc map[string]any
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil || doc["projectId"] != "demo" {
		t.Fatalf("get -o json printed %s (%v)", got.stdout, err)
	}
	y := e.run(alice, "projects", "get", "-o", "yaml", "demo")
	y.want(t, 0, "projectId: demo", "userId: alice", "  ttlMinutes: 120")
	yamlFile := filepath.Join(t.TempDir(), "saved.yaml")
	os.WriteFile(yamlFile, []byte(y.stdout), 0o644)
	e.run(alice, "projects", "apply", "-f", yamlFile).want(t, 0, "project alice/demo configured (generation 1)")

	// A project as get -o json printed it applies back unchanged, under
	// its own name; a PUT body file works too, named after the file.
	file := filepath.Join(t.TempDir(), "saved.json")
	os.WriteFile(file, []byte(got.stdout), 0o644)
	e.run(alice, "projects", "apply", "-f", file).want(t, 0, "project alice/demo configured (generation 1)")
	body := filepath.Join(t.TempDir(), "second.json")
	os.WriteFile(body, []byte(`{"files": {"main.tf": "resource \"terraform_data\" \"b\" {}"}, "requireApproval": true}`), 0o644)
	e.run(alice, "projects", "apply", "-f", body).want(t, 0, "project alice/second created (generation 1)")

	// list: a table, or every project as one document.
	e.run(alice, "projects", "list").want(t, 0, "demo", "second", "PHASE")
	if r := e.run(alice, "projects", "list", "--phase", "Ready", "-o", "json"); strings.TrimSpace(r.stdout) != `{
  "items": []
}` {
		t.Errorf("list --phase Ready: %s", r.stdout)
	}
	list := e.run(alice, "projects", "list", "-o", "json")
	var items struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(list.stdout), &items); err != nil || len(items.Items) != 2 {
		t.Errorf("list -o json: %s", list.stdout)
	}
	// --all is an admin's view; a user is told an admin token is needed.
	e.run(e.token("root", true), "projects", "list", "--all").want(t, 0, "USER", "alice")
	e.run(alice, "projects", "list", "--all").want(t, 1, "Forbidden (HTTP 403)", "admin token")

	// extend, approve.
	e.run(alice, "projects", "extend", "demo", "--ttl", "90m").want(t, 0, "now expires at", "in 1h30m0s")
	e.run(alice, "projects", "extend", "demo").want(t, 0, "in 1h0m0s") // the server's default
	e.run(alice, "projects", "approve", "demo").want(t, 1, "Conflict (HTTP 409)", "does not require approval")
	e.run(alice, "projects", "approve", "second").want(t, 1, "Conflict (HTTP 409)", "no plan")

	// A plan awaits approval: approve names its run. Then runs and logs.
	secondKey := store.Key{UserID: "alice", ProjectID: "second"}
	sp := e.claim(secondKey)
	now := time.Now()
	planRef, _ := e.st.StartRun(ctx, sp, sp.LeaseToken, store.OpPlan, "Spec", "r1", "test", now)
	cost := 2.5
	e.st.FinishRun(ctx, planRef.RowID, store.RunResult{Outcome: store.OutcomeSucceeded, EstimatedMonthlyCostUSD: &cost,
		PlanSummary: map[string]int{"add": 1}, LogTail: "Plan: 1 to add, 0 to change, 0 to destroy.", Planfile: []byte("plan")}, now.Add(1500*time.Millisecond))
	pending := sp.Status
	pending.Phase, pending.PendingPlanRun = store.PhaseAwaitingApproval, planRef.Number
	if err := e.st.FinishReconcile(ctx, secondKey, sp.LeaseToken, pending, sp.Revision, now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	e.run(alice, "projects", "approve", "second").want(t, 0, "the plan of run 1 (generation 1) is approved")
	sp = e.claim(secondKey)
	applyRef, _ := e.st.StartRun(ctx, sp, sp.LeaseToken, store.OpApply, "Approved", "r1", "test", now.Add(2*time.Second))
	e.st.FinishRun(ctx, applyRef.RowID, store.RunResult{Outcome: store.OutcomeFailed, LogTail: "Error: boom\n", Error: "apply failed: boom"}, now.Add(3*time.Second))
	e.run(alice, "runs", "second").want(t, 0, "RUN", "plan", "succeeded", "1.5s", "$2.50", "apply", "failed", "apply failed: boom")
	e.run(alice, "logs", "second").want(t, 0, "Error: boom", "run 2: apply of generation 1, failed")
	e.run(alice, "logs", "second", "1").want(t, 0, "Plan: 1 to add")
	e.run(alice, "logs", "second", "1", "-o", "yaml").want(t, 0, "logTail: 'Plan: 1 to add, 0 to change, 0 to destroy.'", "operation: plan")
	e.run(alice, "logs", "second", "99").want(t, 1, "NotFound (HTTP 404): run not found")
	e.run(alice, "logs", "demo").want(t, 1, "has no runs yet")

	// kubectl habits: -o name, -o wide, describe.
	e.run(alice, "projects", "list", "-o", "name").want(t, 0, "project/alice/demo\n", "project/alice/second\n")
	e.run(alice, "projects", "get", "demo", "-o", "name").want(t, 0, "project/alice/demo\n")
	e.run(alice, "runs", "second", "-o", "name").want(t, 0, "run/2\nrun/1\n")
	e.run(alice, "projects", "list", "-o", "wide").want(t, 0, "REGION", "AWAITING-APPROVAL", "RESERVED", "AGE")
	e.run(alice, "projects", "describe", "second").want(t, 0, "Name:", "alice/second", "Phase:", "Reserved:",
		"Latest runs:", "apply", "apply failed: boom", "Expires:")
	e.run(alice, "projects", "describe", "ghost").want(t, 1, "NotFound (HTTP 404)")
	e.run(alice, "projects", "describe").want(t, 2, "wrong number of arguments")

	// A value the API's limits cut is pointed out.
	e.reconcilerStep(store.Key{UserID: "alice", ProjectID: "demo"}, store.Status{Phase: store.PhaseReady, ObservedGeneration: 1,
		Outputs: map[string]any{"big": strings.Repeat("x", 5000)}})
	e.run(alice, "projects", "get", "demo").want(t, 0, "Ready", "note: outputs.big (5002 bytes) was cut by the API's response limits")

	// delete.
	e.run(alice, "projects", "delete", "demo").want(t, 0, "project alice/demo is being destroyed")
	e.run(alice, "projects", "get", "demo").want(t, 0, "Destroying")
	e.run(alice, "projects", "get", "ghost").want(t, 1, "NotFound (HTTP 404): project not found")
}

// TestCLIErrors: API errors print their message and details (file:line
// for a policy violation) and exit non-zero; so do mistakes made before
// any request.
func TestCLIErrors(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	alice := e.token("alice", false)
	bad := writeTerraformDir(t, "bad", map[string]string{
		"main.tf": "resource \"terraform_data\" \"a\" {\n  provisioner \"local-exec\" {\n    command = \"id\"\n  }\n}\n",
	})
	r := e.run(alice, "projects", "apply", "-f", bad)
	r.want(t, 1, "PolicyViolation (HTTP 422)", "main.tf:2: ")
	e.run(alice, "projects", "apply", "-f", bad, "--watch").want(t, 1, "PolicyViolation")

	dir := writeTerraformDir(t, "demo", maps(demoFiles))
	e.run(alice, "projects", "apply", "-f", dir, "--ttl", "0").want(t, 1, "ttlMinutes: 0 is not forever")
	e.run(alice, "projects", "apply", "-f", dir, "--region", "mars-1").want(t, 1, "InvalidSpec (HTTP 422)", `region: "mars-1" is not allowed`)
	e.run(alice, "projects", "apply", "-f", dir, "-var", "novalue").want(t, 2, `"novalue" is not NAME=VALUE`)
	e.run(alice, "projects", "apply").want(t, 2, "-f FILE|DIR is required")
	e.run(alice, "projects", "apply", "-f", dir, "--watch", "--interval", "0s").want(t, 1, "--interval 0s is too short")
	e.run(alice, "projects", "get").want(t, 2, "wrong number of arguments")
	e.run(alice, "projects", "get", "demo", "-o", "xml").want(t, 2, `-o "xml": use table, wide, name, json or yaml`)
	e.run(alice, "projects", "get", "demo", "--url", "ftp://x").want(t, 2, "is not an http(s) URL")
	e.run("", "projects", "list").want(t, 1, "no token: set TENANTFORM_TOKEN")
	e.run("not-a-jwt", "projects", "list").want(t, 1, "pass --user")
	e.run(alice, "projects", "frob").want(t, 2, `unknown verb "frob"`)
	e.run(alice, "projects", "--help").want(t, 0, "Verbs:", "TENANTFORM_URL")
	e.run(alice, "logs", "--help").want(t, 0, "Usage: tenantform logs PROJECT [RUN]", "TENANTFORM_TOKEN")
	// The token is a secret: no help text or usage error may print it.
	for _, args := range [][]string{
		{"projects", "--help"}, {"projects", "get", "-h"}, {"projects", "list", "--bogus"},
		{"runs", "-h"}, {"logs", "-h"}, {"projects", "get", "demo", "-o", "xml"},
	} {
		if r := e.run(alice, args...); strings.Contains(r.stdout+r.stderr, alice) {
			t.Errorf("tenantform %s printed the token:\n%s%s", strings.Join(args, " "), r.stdout, r.stderr)
		}
	}

	// Another user's token against alice's projects: the server's 404.
	e.run(e.token("bob", false), "projects", "get", "demo", "--user", "alice").want(t, 1, "NotFound (HTTP 404)")
	// A server that is not there.
	var stdout, stderr syncBuffer
	code := run([]string{"projects", "list"}, &stdout, &stderr, env{"TENANTFORM_URL": "http://127.0.0.1:1", "TENANTFORM_TOKEN": alice}.get)
	if code != 1 || !strings.Contains(stderr.String(), "cannot reach tenantform at http://127.0.0.1:1") {
		t.Errorf("unreachable server: exit %d: %s", code, stderr.String())
	}
}

// claim takes key's lease as a reconciler would and returns it with its
// claim token. A lease of the test's own owner is taken back by the next
// claim, so every step claims afresh.
func (e *cliEnv) claim(key store.Key) store.Project {
	e.t.Helper()
	ctx := context.Background()
	var inflight []store.Key
	for {
		p, ok, err := e.st.ClaimDue(ctx, store.Claim{Owner: "cli-test", LeaseFor: time.Hour, Now: time.Now().Add(time.Hour), InFlight: inflight})
		if err != nil || !ok {
			e.t.Fatalf("cannot claim %s: ok=%v err=%v", key, ok, err)
		}
		if p.Key == key {
			return p
		}
		inflight = append(inflight, p.Key)
	}
}

// reconcilerStep records a status for key as a reconciler would.
func (e *cliEnv) reconcilerStep(key store.Key, st store.Status) {
	e.t.Helper()
	p := e.claim(key)
	if err := e.st.SetStatus(context.Background(), key, p.LeaseToken, st); err != nil {
		e.t.Fatalf("cannot record a status: %v", err)
	}
}

// waitFor waits until the watching command has printed s.
func waitFor(t *testing.T, out *syncBuffer, done <-chan int, s string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(out.String(), s) {
		select {
		case code := <-done:
			t.Fatalf("the command ended (exit %d) before printing %q:\n%s", code, s, out.String())
		case <-deadline:
			t.Fatalf("the command did not print %q within 10s:\n%s", s, out.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestCLIWatch follows a project through the phases a reconciler writes:
// a progress line per phase with the elapsed time, the plan summary, exit
// 0 on Ready, and exit 1 on Blocked with the reason.
func TestCLIWatch(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	alice := e.token("alice", false)
	dir := writeTerraformDir(t, "demo", maps(demoFiles))
	key := store.Key{UserID: "alice", ProjectID: "demo"}

	watch := func(args ...string) (*syncBuffer, <-chan int) {
		var out syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(append(args, "--interval", "10ms"), &out, &out,
				env{"TENANTFORM_URL": e.url, "TENANTFORM_TOKEN": alice}.get)
		}()
		return &out, done
	}
	cond := func(reason string, gen int64) []store.Condition {
		return []store.Condition{{Type: "Ready", Status: "False", Reason: reason, Message: reason + " generation", ObservedGeneration: gen, LastTransitionTime: time.Now()}}
	}

	out, done := watch("projects", "apply", "-f", dir, "-var", "n=1", "-var", "label=x", "--watch")
	waitFor(t, out, done, "Pending")
	e.reconcilerStep(key, store.Status{Phase: store.PhasePlanning, Conditions: cond("Planning", 1)})
	waitFor(t, out, done, "Planning")
	p := e.claim(key)
	planRef, _ := e.st.StartRun(t.Context(), p, p.LeaseToken, store.OpPlan, "Spec", "r", "cli-test", time.Now())
	e.st.FinishRun(t.Context(), planRef.RowID, store.RunResult{Outcome: store.OutcomeSucceeded, PlanSummary: map[string]int{"add": 1}}, time.Now())
	e.reconcilerStep(key, store.Status{Phase: store.PhaseApplying, Conditions: cond("Applying", 1)})
	waitFor(t, out, done, "plan: 1 to add, 0 to change, 0 to destroy")
	ready := cond("Applied", 1)
	ready[0].Status = "True"
	e.reconcilerStep(key, store.Status{Phase: store.PhaseReady, ObservedGeneration: 1, ResourceCount: 1, EstimatedMonthlyCostUSD: 0.25, Conditions: ready})
	if code := <-done; code != 0 {
		t.Fatalf("watch ended with exit %d on Ready:\n%s", code, out.String())
	}
	for _, s := range []string{"] Pending", "] Planning", "] Applying", "is Ready (generation 1): 1 resources, about $0.25/month"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("watch output lacks %q:\n%s", s, out.String())
		}
	}

	// A new generation that ends Blocked: exit 1, with the reason. The
	// old Ready (generation 1) does not end the watch early.
	out, done = watch("projects", "apply", "-f", dir, "-var", "n=2", "-var", "label=x", "--watch")
	waitFor(t, out, done, "generation 2")
	blocked := cond("QuotaExceeded", 2)
	blocked[0].Message = "2 resources would exceed the quota of 1"
	e.reconcilerStep(key, store.Status{Phase: store.PhaseBlocked, ObservedGeneration: 1, Conditions: blocked})
	if code := <-done; code != 1 {
		t.Fatalf("watch ended with exit %d on Blocked, want 1:\n%s", code, out.String())
	}
	if s := out.String(); !strings.Contains(s, "is Blocked (QuotaExceeded)") || !strings.Contains(s, "exceed the quota of 1") {
		t.Errorf("watch output on Blocked:\n%s", s)
	}

	// delete --watch ends when the project is gone.
	out, done = watch("projects", "delete", "demo", "--watch")
	waitFor(t, out, done, "Destroying")
	dp := e.claim(key)
	if err := e.st.DeleteFinalized(t.Context(), key, dp.LeaseToken, dp.UID, "DeletionRequested", dp.Status, time.Now()); err != nil {
		t.Fatalf("DeleteFinalized: %v", err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("delete --watch ended with exit %d:\n%s", code, out.String())
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestCLIWaitsOutRateLimits: a 429 is retried after the server's
// Retry-After instead of failing the command.
func TestCLIWaitsOutRateLimits(t *testing.T) {
	t.Parallel()
	e := newCLIEnvWith(t, func(c *api.Config) { c.RateLimitPerSecond, c.RateLimitBurst = 2, 1 })
	alice := e.token("alice", false)
	start := time.Now()
	for range 3 {
		e.run(alice, "projects", "list").want(t, 0, "NAME")
	}
	if time.Since(start) < 500*time.Millisecond {
		t.Errorf("3 requests at 2/s with a burst of 1 took only %s: was the limit applied?", time.Since(start))
	}
}

// runWith is run with more environment (EDITOR).
func (e *cliEnv) runWith(token string, more env, args ...string) cliResult {
	var stdout, stderr syncBuffer
	vars := env{"TENANTFORM_URL": e.url, "TENANTFORM_TOKEN": token, "HOME": "/h"}
	for k, v := range more {
		vars[k] = v
	}
	code := run(args, &stdout, &stderr, vars.get)
	return cliResult{code, stdout.String(), stderr.String()}
}

// TestCLIEdit: edit opens the spec as YAML in $EDITOR and PUTs what was
// saved with If-Match; an unchanged file changes nothing, and a change
// made by someone else while the editor was open is refused with the edit
// kept.
func TestCLIEdit(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	alice := e.token("alice", false)
	dir := writeTerraformDir(t, "demo", maps(demoFiles))
	e.run(alice, "projects", "apply", "-f", dir, "-var", "n=1", "-var", "label=x", "--ttl", "60m").want(t, 0, "created (generation 1)")

	// An editor that changes the TTL.
	e.runWith(alice, env{"EDITOR": `sed -i 's/^ttlMinutes: 60$/ttlMinutes: 90/'`}, "projects", "edit", "demo").
		want(t, 0, "project alice/demo edited (generation 2)")
	e.run(alice, "projects", "get", "demo", "-o", "yaml").want(t, 0, "ttlMinutes: 90")
	// One that saves what it was given.
	e.runWith(alice, env{"EDITOR": "true"}, "projects", "edit", "demo").want(t, 0, "edit cancelled")
	// One that fails.
	e.runWith(alice, env{"EDITOR": "false"}, "projects", "edit", "demo").want(t, 1, "exited with status 1; nothing was applied")

	// Someone else changes the project while the editor is open.
	marks := t.TempDir()
	slow := `sh -c 'sed -i "s/^ttlMinutes: 90$/ttlMinutes: 30/" "$1"; touch ` + marks + `/opened; ` +
		`i=0; while [ ! -e ` + marks + `/go ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done' editor`
	done := make(chan cliResult)
	go func() { done <- e.runWith(alice, env{"EDITOR": slow}, "projects", "edit", "demo") }()
	for i := 0; ; i++ {
		if _, err := os.Stat(marks + "/opened"); err == nil {
			break
		}
		if i > 2400 { // two minutes: a loaded machine starts processes slowly
			t.Fatal("the editor never opened")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.run(alice, "projects", "apply", "-f", dir, "-var", "n=1", "-var", "label=x", "--ttl", "45m").want(t, 0, "configured (generation 3)")
	os.WriteFile(marks+"/go", nil, 0o644)
	r := <-done
	r.want(t, 1, "changed since generation 2 was opened; nothing was applied", "Your edit is kept in")
	e.run(alice, "projects", "get", "demo", "-o", "yaml").want(t, 0, "ttlMinutes: 45")
}

// TestCLIGetAndListFollow: get -w and list -w print the current state,
// then a row per change from the API's watch stream, until interrupted.
func TestCLIGetAndListFollow(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	alice := e.token("alice", false)
	body := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(body, []byte(`{"files": {"main.tf": "resource \"terraform_data\" \"a\" {}"}}`), 0o644)
	e.run(alice, "projects", "apply", "-f", body, "demo").want(t, 0, "created (generation 1)")

	getenv := env{"TENANTFORM_URL": e.url, "TENANTFORM_TOKEN": alice}.get
	follow := func(verb verbFunc, args ...string) (*syncBuffer, func() error) {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut syncBuffer
		done := make(chan error, 1)
		go func() { done <- verb(ctx, args, &out, &errOut, getenv) }()
		return &out, func() error { cancel(); return <-done }
	}
	getOut, stopGet := follow(projectsGet, "demo", "-w")
	listOut, stopList := follow(projectsList, "-w", "-o", "name")
	waitFor := func(out *syncBuffer, s string) {
		t.Helper()
		for i := 0; !strings.Contains(out.String(), s); i++ {
			if i > 600 {
				t.Fatalf("the stream never printed %q:\n%s", s, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(getOut, "ADDED")
	waitFor(listOut, "project/alice/demo")

	os.WriteFile(body, []byte(`{"files": {"main.tf": "resource \"terraform_data\" \"b\" {}"}}`), 0o644)
	e.run(alice, "projects", "apply", "-f", body, "demo").want(t, 0, "configured (generation 2)")
	e.run(alice, "projects", "apply", "-f", body, "other").want(t, 0, "created (generation 1)")
	waitFor(getOut, "0/2")
	waitFor(listOut, "project/alice/other")
	e.run(alice, "projects", "delete", "demo").want(t, 0, "being destroyed")
	waitFor(getOut, "Destroying")

	if err := stopGet(); err != nil {
		t.Errorf("get -w ended with %v when interrupted", err)
	}
	if err := stopList(); err != nil {
		t.Errorf("list -w ended with %v when interrupted", err)
	}
	if got := getOut.String(); strings.Contains(got, "other") || !strings.Contains(got, "MODIFIED") {
		t.Errorf("get -w demo printed:\n%s", got)
	}
	// A project that does not exist is the API's 404, not a silent wait.
	var out, errOut syncBuffer
	if err := projectsGet(context.Background(), []string{"ghost", "-w"}, &out, &errOut, getenv); err == nil || !strings.Contains(err.Error(), "NotFound (HTTP 404)") {
		t.Errorf("get -w ghost: %v", err)
	}
	e.run(alice, "projects", "list", "-w", "--all").want(t, 2, "-w streams one user's projects")
}
