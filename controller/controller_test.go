package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// The emulator of the e2e tests (kumo) starts goroutines of its own when
// the package loads; they are not the tests' leaks.
func TestMain(m *testing.M) { storetest.Main(m, goleak.IgnoreCurrent()) }

var (
	terraformOnce sync.Once
	terraformPath string
	terraformErr  error
)

func terraformBinary(t testing.TB) string {
	t.Helper()
	terraformOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		terraformPath, _, terraformErr = tf.FindBinary(ctx, tf.FindOptions{TFPath: os.Getenv("TF_PATH")})
	})
	if errors.Is(terraformErr, tf.ErrBinaryNotFound) {
		t.Skip("no terraform binary on PATH or TF_PATH")
	}
	if terraformErr != nil {
		t.Fatal(terraformErr)
	}
	return terraformPath
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// harness is one database, a terraform (the fake, or the real engine) and
// a controller driven synchronously by the test through an injected clock.
type harness struct {
	t      *testing.T
	dbURL  string
	st     *store.Store
	engine *tf.Engine     // real terraform, or nil
	fake   *fakeTerraform // the fake, or nil
	tf     Terraform
	clock  *fakeClock
	cfg    Config
	c      *Controller
}

func newStoreHarness(t *testing.T, mutate []func(*Config)) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, dbURL: storetest.NewMigratedDatabase(t, store.MigrateURL), clock: newFakeClock(t0)}
	var err error
	if h.st, err = store.Open(ctx, h.dbURL, 20); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.st.Close)
	if err := h.st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h.cfg = Config{Owner: "test-reconciler", Clock: h.clock, Logger: zaptest.NewLogger(t),
		LeaseDuration: time.Minute, ResyncInterval: 10 * time.Minute,
		BackoffBase: 10 * time.Second, BackoffMax: 5 * time.Minute}
	for _, m := range mutate {
		m(&h.cfg)
	}
	return h
}

// newHarness runs the reconciler against the fake terraform.
func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	h := newStoreHarness(t, mutate)
	h.fake = newFakeTerraform(t, h.dbURL)
	h.tf = h.fake
	h.c = New(h.cfg, h.st, h.tf)
	return h
}

// newRealHarness runs the reconciler against real terraform.
func newRealHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	h := newStoreHarness(t, mutate)
	var err error
	h.engine, err = tf.New(tf.Config{
		BinaryPath: terraformBinary(t), WorkRoot: t.TempDir(), PGConnStr: h.dbURL,
		Environment: "test", StopGrace: 5 * time.Second, LockTimeout: 30 * time.Second,
		Logger: zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.tf = h.engine
	h.c = New(h.cfg, h.st, h.tf)
	return h
}

// restart replaces the controller with a new one (a new process).
func (h *harness) restart() { h.c = New(h.cfg, h.st, h.tf) }

// reconcileDue claims and reconciles every due project, one at a time, and
// returns how many passes ran.
func (h *harness) reconcileDue() int {
	h.t.Helper()
	ctx := context.Background()
	n := 0
	for ; n < 100; n++ {
		p, ok, err := h.c.claim(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		if !ok {
			return n
		}
		h.c.reconcileClaimed(ctx, ctx, p)
	}
	h.t.Fatal("projects stay due forever")
	return n
}

func counterSpec(n int) store.Spec {
	return store.Spec{
		Region: "us-east-1",
		Files: map[string]string{
			"main.tf": `variable "n" {
  type = number
}
resource "terraform_data" "counter" {
  input = var.n
}
output "n" {
  value = terraform_data.counter.output
}
`},
		Variables:         map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(n))},
		TTLMinutes:        60,
		MaxMonthlyCostUSD: 50,
	}
}

func (h *harness) put(user, project string, spec store.Spec) store.Project {
	h.t.Helper()
	p, _, err := h.st.PutSpec(context.Background(), store.Key{UserID: user, ProjectID: project}, spec, nil, h.clock.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) get(user, project string) store.Project {
	h.t.Helper()
	p, err := h.st.GetProject(context.Background(), store.Key{UserID: user, ProjectID: project})
	if err != nil {
		h.t.Fatalf("get %s/%s: %v", user, project, err)
	}
	return p
}

// runOps lists the project's runs as "operation:outcome", oldest first.
func (h *harness) runOps(user, project string) []string {
	h.t.Helper()
	runs, err := h.st.ListRuns(context.Background(), store.Key{UserID: user, ProjectID: project}, 100, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	out := []string{}
	for i := len(runs) - 1; i >= 0; i-- {
		out = append(out, runs[i].Operation+":"+runs[i].Outcome)
	}
	return out
}

func (h *harness) stateCount(user, project string) int {
	h.t.Helper()
	if h.fake != nil {
		return h.fake.resources(user + "/" + project)
	}
	rs, err := h.engine.StateResources(context.Background(), tf.Project{UserID: user, ProjectID: project, Region: "us-east-1"}, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return len(rs)
}

func TestCreateChangeAndResync(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t)
	h.put("alice", "demo", counterSpec(1))
	if n := h.reconcileDue(); n != 1 {
		t.Fatalf("%d passes for one new project", n)
	}
	p := h.get("alice", "demo")
	if p.Status.Phase != store.PhaseReady || p.Status.ObservedGeneration != 1 || p.Status.ResourceCount != 1 {
		t.Fatalf("after create: phase %s observed %d resources %d (%s)", p.Status.Phase, p.Status.ObservedGeneration, p.Status.ResourceCount, p.Status.LastError)
	}
	if diff := cmp.Diff(map[string]any{"n": float64(1)}, p.Status.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if p.Status.LastAppliedAt == nil {
		t.Error("lastAppliedAt not set")
	}

	h.clock.Advance(time.Minute)
	h.put("alice", "demo", counterSpec(2))
	h.reconcileDue()
	p = h.get("alice", "demo")
	if p.Status.Phase != store.PhaseReady || p.Generation != 2 || p.Status.ObservedGeneration != 2 {
		t.Fatalf("after change: phase %s gen %d observed %d", p.Status.Phase, p.Generation, p.Status.ObservedGeneration)
	}
	if diff := cmp.Diff(map[string]any{"n": float64(2)}, p.Status.Outputs); diff != "" {
		t.Errorf("outputs after change (-want +got):\n%s", diff)
	}
	want := []string{"plan:succeeded", "apply:succeeded", "plan:succeeded", "apply:succeeded"}
	if diff := cmp.Diff(want, h.runOps("alice", "demo")); diff != "" {
		t.Fatalf("runs (-want +got):\n%s", diff)
	}

	// A resync of the unchanged project: it is claimed, and runs nothing.
	h.clock.Advance(11 * time.Minute)
	if n := h.reconcileDue(); n != 1 {
		t.Fatalf("resync passes = %d, want 1", n)
	}
	if diff := cmp.Diff(want, h.runOps("alice", "demo")); diff != "" {
		t.Fatalf("a resync of an unchanged project ran terraform (-want +got):\n%s", diff)
	}
	if h.reconcileDue() != 0 {
		t.Fatal("project due again right after its resync")
	}
}

// pricedEstimator charges a fixed price per terraform_data, standing in for
// priced AWS resources, which cannot be created here.
type pricedEstimator struct{ perResource float64 }

func (e pricedEstimator) Estimate(region string, rs []tf.PlannedResource) cost.Estimate {
	est := cost.Estimate{Lines: []cost.Line{}}
	for _, r := range rs {
		est.Lines = append(est.Lines, cost.Line{Address: r.Address, Type: r.Type, MonthlyUSD: e.perResource, Basis: "test price"})
		est.MonthlyUSD += e.perResource
	}
	return est
}

func TestQuotaExceededThenRaised(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxResourcesPerUser = 1 })
	h.put("bob", "first", counterSpec(1))
	h.reconcileDue()
	h.put("bob", "second", counterSpec(1))
	h.reconcileDue()
	p := h.get("bob", "second")
	if p.Status.Phase != store.PhaseBlocked {
		t.Fatalf("phase %s, want Blocked", p.Status.Phase)
	}
	c, _ := findCondition(p.Status, CondReady)
	if c.Reason != ReasonQuota {
		t.Fatalf("reason %q, want %s (message %q)", c.Reason, ReasonQuota, p.Status.Message)
	}
	if want := "2 in all, over the limit of 1"; !strings.Contains(p.Status.Message, want) {
		t.Errorf("message %q lacks the numbers %q", p.Status.Message, want)
	}
	if diff := cmp.Diff([]string{"plan:succeeded"}, h.runOps("bob", "second")); diff != "" {
		t.Fatalf("something was applied while blocked (-want +got):\n%s", diff)
	}
	if h.stateCount("bob", "second") != 0 {
		t.Fatal("a blocked project has resources in state")
	}

	two := 2
	if err := h.st.SetQuotaOverride(context.Background(), "bob", store.QuotaOverride{MaxResources: &two}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := h.reconcileDue(); n != 1 {
		t.Fatalf("raising the quota woke %d projects, want 1", n)
	}
	p = h.get("bob", "second")
	if p.Status.Phase != store.PhaseReady || p.Status.ResourceCount != 1 {
		t.Fatalf("after raising the quota: %s %q", p.Status.Phase, p.Status.Message)
	}
}

func TestBudgetExceeded(t *testing.T) {
	t.Parallel()
	t.Run("project ceiling", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Estimator = pricedEstimator{perResource: 30} })
		spec := counterSpec(1)
		spec.MaxMonthlyCostUSD = 25
		h.put("carol", "pricey", spec)
		h.reconcileDue()
		p := h.get("carol", "pricey")
		c, _ := findCondition(p.Status, CondReady)
		if p.Status.Phase != store.PhaseBlocked || c.Reason != ReasonBudget {
			t.Fatalf("phase %s reason %s, want Blocked/BudgetExceeded", p.Status.Phase, c.Reason)
		}
		if !strings.Contains(p.Status.Message, "$30.00/month is over the project's ceiling of $25.00/month") {
			t.Errorf("message %q", p.Status.Message)
		}
		if h.stateCount("carol", "pricey") != 0 {
			t.Fatal("applied despite the budget")
		}
	})
	t.Run("platform budget", func(t *testing.T) {
		h := newHarness(t, func(c *Config) {
			c.Estimator = pricedEstimator{perResource: 30}
			c.CostBudgetLimitUSD = 50
		})
		h.put("dave", "one", counterSpec(1))
		h.reconcileDue()
		h.put("erin", "two", counterSpec(1))
		h.reconcileDue()
		if p := h.get("dave", "one"); p.Status.Phase != store.PhaseReady {
			t.Fatalf("first project: %s %q", p.Status.Phase, p.Status.Message)
		}
		p := h.get("erin", "two")
		c, _ := findCondition(p.Status, CondReady)
		if p.Status.Phase != store.PhaseBlocked || c.Reason != ReasonBudget || !strings.Contains(p.Status.Message, "platform budget of $50.00") {
			t.Fatalf("second project: %s %s %q", p.Status.Phase, c.Reason, p.Status.Message)
		}
	})
}

func TestApprovalGate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := counterSpec(7)
	spec.RequireApproval = true
	h.put("frank", "gated", spec)
	h.reconcileDue()
	p := h.get("frank", "gated")
	if p.Status.Phase != store.PhaseAwaitingApproval {
		t.Fatalf("phase %s, want AwaitingApproval", p.Status.Phase)
	}
	// Resyncs while waiting neither apply nor re-plan.
	h.clock.Advance(11 * time.Minute)
	h.reconcileDue()
	if diff := cmp.Diff([]string{"plan:succeeded"}, h.runOps("frank", "gated")); diff != "" {
		t.Fatalf("runs while awaiting approval (-want +got):\n%s", diff)
	}
	if h.stateCount("frank", "gated") != 0 {
		t.Fatal("applied before approval")
	}
	if _, err := h.st.Approve(context.Background(), p.Key, store.Approval{RunID: p.Status.PendingPlanRun}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.reconcileDue()
	p = h.get("frank", "gated")
	if p.Status.Phase != store.PhaseReady {
		t.Fatalf("after approval: %s %q", p.Status.Phase, p.Status.LastError)
	}
	// The approved, saved plan was applied: no second plan.
	if diff := cmp.Diff([]string{"plan:succeeded", "apply:succeeded"}, h.runOps("frank", "gated")); diff != "" {
		t.Fatalf("runs (-want +got):\n%s", diff)
	}
}

func TestExpiryAndDeletionDestroy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.put("gina", "short", counterSpec(1))
	h.put("gina", "deleted", counterSpec(1))
	h.reconcileDue()
	for _, name := range []string{"short", "deleted"} {
		if h.stateCount("gina", name) != 1 {
			t.Fatalf("%s not applied", name)
		}
	}

	// 55 of 60 minutes gone: less than 10% left.
	h.clock.Advance(55 * time.Minute)
	h.reconcileDue()
	p := h.get("gina", "short")
	if c, ok := findCondition(p.Status, CondExpiringSoon); !ok || c.Status != "True" {
		t.Fatalf("no ExpiringSoon condition with 5 of 60 minutes left: %+v", p.Status.Conditions)
	}

	if _, err := h.st.RequestDeletion(context.Background(), store.Key{UserID: "gina", ProjectID: "deleted"}, false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.reconcileDue()
	if _, err := h.st.GetProject(context.Background(), store.Key{UserID: "gina", ProjectID: "deleted"}); !errors.Is(err, store.ErrGone) {
		t.Fatalf("deleted project still there: %v", err)
	}
	if h.stateCount("gina", "deleted") != 0 {
		t.Fatal("deleted project's resources remain in state")
	}
	if _, err := h.st.GetProject(context.Background(), store.Key{UserID: "gina", ProjectID: "short"}); err != nil {
		t.Fatal("a project was destroyed before its TTL ran out")
	}

	h.clock.Advance(6 * time.Minute)
	h.reconcileDue()
	if _, err := h.st.GetProject(context.Background(), store.Key{UserID: "gina", ProjectID: "short"}); !errors.Is(err, store.ErrGone) {
		t.Fatalf("expired project still there: %v", err)
	}
	if h.stateCount("gina", "short") != 0 {
		t.Fatal("expired project's resources remain in state")
	}
}

func TestBackoffGrowsAndSurvivesRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.planHook = func(ctx context.Context, p tf.Project) error {
		return errors.New("dial tcp 10.0.0.1:443: connection refused")
	}
	h.put("hank", "broken", counterSpec(1))

	var delays []time.Duration
	for attempt := 1; attempt <= 4; attempt++ {
		if attempt == 3 {
			h.restart() // a new reconciler process: backoff state comes from the row
		}
		if n := h.reconcileDue(); n != 1 {
			t.Fatalf("attempt %d: %d passes", attempt, n)
		}
		p := h.get("hank", "broken")
		if p.Status.Phase != store.PhaseRetrying || p.Status.Attempts != attempt || p.Status.NextAttemptAt == nil {
			t.Fatalf("attempt %d: phase %s attempts %d next %v", attempt, p.Status.Phase, p.Status.Attempts, p.Status.NextAttemptAt)
		}
		if !strings.Contains(p.Status.LastError, "connection refused") {
			t.Errorf("lastError %q does not explain the failure", p.Status.LastError)
		}
		delay := p.Status.NextAttemptAt.Sub(h.clock.Now())
		delays = append(delays, delay)
		// Not retried before its time.
		h.clock.Advance(delay - time.Second)
		if n := h.reconcileDue(); n != 0 {
			t.Fatalf("attempt %d retried %v early", attempt, time.Second)
		}
		h.clock.Advance(time.Second)
	}
	for i := 1; i < len(delays); i++ {
		if delays[i] <= delays[i-1] {
			t.Fatalf("backoff did not grow: %v", delays)
		}
	}

	// The network is back and the spec changes: a fresh start converges.
	h.fake.planHook = nil
	h.put("hank", "broken", counterSpec(2))
	h.reconcileDue()
	if p := h.get("hank", "broken"); p.Status.Phase != store.PhaseReady || p.Status.Attempts != 0 {
		t.Fatalf("after fixing the spec: %s attempts %d", p.Status.Phase, p.Status.Attempts)
	}
}

// TestConfigurationErrorIsTerminal: terraform rejecting the configuration
// (here a required variable without a value) is not retried, and the
// status names the variable, file and line from terraform's diagnostics.
func TestConfigurationErrorIsTerminal(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t)
	broken := counterSpec(1)
	broken.Variables = nil
	h.put("hank", "novar", broken)
	h.reconcileDue()
	p := h.get("hank", "novar")
	c, _ := findCondition(p.Status, CondReady)
	if p.Status.Phase != store.PhaseFailed || c.Reason != ReasonConfiguration || p.Status.NextAttemptAt != nil {
		t.Fatalf("phase %s reason %s next %v: %s", p.Status.Phase, c.Reason, p.Status.NextAttemptAt, p.Status.LastError)
	}
	for _, want := range []string{"No value for required variable", `"n"`, "main.tf"} {
		if !strings.Contains(p.Status.LastError, want) {
			t.Errorf("lastError lacks %q:\n%s", want, p.Status.LastError)
		}
	}
	runs, err := h.st.ListRuns(context.Background(), p.Key, 10, 0)
	if err != nil || len(runs) != 1 || len(runs[0].Diagnostics) == 0 {
		t.Fatalf("the failed plan run keeps no diagnostics: %v %+v", err, runs)
	}
	h.clock.Advance(time.Hour - time.Minute)
	h.reconcileDue()
	if n := len(h.runOps("hank", "novar")); n != 1 {
		t.Fatalf("a configuration error was retried: %d runs", n)
	}
}

func TestPolicyViolationIsTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bad := counterSpec(1)
	bad.Files["evil.tf"] = `resource "terraform_data" "x" {
  provisioner "local-exec" { command = "env" }
}`
	h.put("ivan", "evil", bad)
	h.reconcileDue()
	p := h.get("ivan", "evil")
	c, _ := findCondition(p.Status, CondReady)
	if p.Status.Phase != store.PhaseFailed || c.Reason != ReasonPolicy || !strings.Contains(p.Status.LastError, "evil.tf:2") {
		t.Fatalf("phase %s reason %s error %q", p.Status.Phase, c.Reason, p.Status.LastError)
	}
	h.clock.Advance(time.Hour - time.Minute)
	h.reconcileDue()
	runs := h.runOps("ivan", "evil")
	if len(runs) != 1 {
		t.Fatalf("a refused spec was retried: %v", runs)
	}
}

// TestDeleteWhenSpecViolatesPolicy: a project whose spec fails the policy
// (never applied, or applied before the policy was tightened) can still be
// deleted; its state is destroyed without running its configuration.
func TestDeleteWhenSpecViolatesPolicy(t *testing.T) {
	t.Parallel()
	h := newRealHarness(t)
	h.put("mona", "applied", counterSpec(1))
	bad := counterSpec(1)
	bad.Files["evil.tf"] = `resource "terraform_data" "x" {
  provisioner "local-exec" { command = "env" }
}`
	h.put("mona", "refused", bad)
	h.reconcileDue()
	if h.stateCount("mona", "applied") != 1 {
		t.Fatal("valid project not applied")
	}

	// Tighten the policy: terraform_data is no longer allowed.
	rules := policy.DefaultRules()
	rules.DeniedResourceTypes = append(rules.DeniedResourceTypes, "terraform_data")
	strict, err := tf.New(tf.Config{BinaryPath: terraformBinary(t), WorkRoot: t.TempDir(), PGConnStr: h.dbURL,
		Environment: "test", Policy: rules, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h.tf = strict
	h.restart()
	for _, name := range []string{"applied", "refused"} {
		if _, err := h.st.RequestDeletion(context.Background(), store.Key{UserID: "mona", ProjectID: name}, false, h.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	h.reconcileDue()
	for _, name := range []string{"applied", "refused"} {
		if _, err := h.st.GetProject(context.Background(), store.Key{UserID: "mona", ProjectID: name}); !errors.Is(err, store.ErrGone) {
			t.Fatalf("%s: still there after deletion (%v)", name, err)
		}
		if n := h.stateCount("mona", name); n != 0 {
			t.Fatalf("%s: %d resources left in state", name, n)
		}
	}
}

// TestDeletionFreesQuota: a blocked project is admitted once the user's
// other project is destroyed, without waiting for a resync.
func TestDeletionFreesQuota(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxResourcesPerUser = 1 })
	h.put("nina", "old", counterSpec(1))
	h.reconcileDue()
	h.put("nina", "new", counterSpec(2))
	h.reconcileDue()
	if p := h.get("nina", "new"); p.Status.Phase != store.PhaseBlocked {
		t.Fatalf("second project %s, want Blocked", p.Status.Phase)
	}
	if _, err := h.st.RequestDeletion(context.Background(), store.Key{UserID: "nina", ProjectID: "old"}, false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := h.reconcileDue(); n != 2 {
		t.Fatalf("%d passes, want 2 (destroy the old one, admit the new one)", n)
	}
	if p := h.get("nina", "new"); p.Status.Phase != store.PhaseReady {
		t.Fatalf("after the deletion: %s %q", p.Status.Phase, p.Status.Message)
	}
}

// TestSlowDriftCheck: after DriftCheckInterval a Ready project is re-planned;
// resources lost out of band are re-created, and a converged project is
// only planned.
func TestSlowDriftCheck(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.DriftCheckInterval = time.Hour })
	spec := counterSpec(1)
	spec.TTLMinutes = 24 * 60
	h.put("olga", "drifty", spec)
	h.reconcileDue()
	first := h.get("olga", "drifty")

	// The resource disappears behind tenantform's back: its state loses it.
	conn, err := pgx.Connect(context.Background(), h.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tag, err := conn.Exec(context.Background(), `UPDATE `+tf.DefaultPGSchema+`.states
		SET data = jsonb_set(jsonb_set(data::jsonb, '{resources}', '[]'),
			'{serial}', to_jsonb((data::jsonb->>'serial')::int + 1))::text
		WHERE name = $1`, tf.WorkspaceName(first.UserID, first.ProjectID))
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("cannot tamper with the state: %v (%d rows)", err, tag.RowsAffected())
	}
	h.clock.Advance(50 * time.Minute)
	h.reconcileDue()
	if n := h.stateCount("olga", "drifty"); n != 0 {
		t.Fatalf("drift corrected before the drift check was due (%d in state)", n)
	}
	h.clock.Advance(11 * time.Minute)
	h.reconcileDue()
	if n := h.stateCount("olga", "drifty"); n != 1 {
		t.Fatalf("%d resources after the drift check, want the lost one re-created", n)
	}
	p := h.get("olga", "drifty")
	c, _ := findCondition(p.Status, CondReady)
	if p.Status.Phase != store.PhaseReady || !strings.Contains(c.Message, "re-applied after drift") {
		t.Fatalf("after the drift check: %s %q", p.Status.Phase, c.Message)
	}

	// No drift: the next check plans and applies nothing.
	applied := *p.Status.LastAppliedAt
	h.clock.Advance(61 * time.Minute)
	h.reconcileDue()
	want := []string{"plan:succeeded", "apply:succeeded", "plan:succeeded", "apply:succeeded", "plan:succeeded"}
	if diff := cmp.Diff(want, h.runOps("olga", "drifty")); diff != "" {
		t.Fatalf("runs (-want +got):\n%s", diff)
	}
	p = h.get("olga", "drifty")
	if !p.Status.LastAppliedAt.Equal(applied) || !p.Status.LastVerifiedAt.Equal(h.clock.Now()) {
		t.Fatalf("lastAppliedAt %v (was %v), lastVerifiedAt %v (now %v)", p.Status.LastAppliedAt, applied, p.Status.LastVerifiedAt, h.clock.Now())
	}
}
